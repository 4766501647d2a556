import { hex, sha256 } from '../crypto/hash.ts';
import { COMMITMENT_CLOCK_TOLERANCE_MS, stepIdOf, tokenBytes } from '../protocol/commitment.ts';
import type { Commitment__Output } from '../proto/tessera/v1/Commitment.ts';
import { HopFailure } from './pipeline-session.ts';
import type { RouteHop } from './routing.ts';

export interface CheckedStep {
  readonly sessionId: string;
  readonly step: number;
  /** The token ids this step sent to shard 0. */
  readonly tokens: readonly number[];
  /** The audit commitment the session was opened with; empty for none. */
  readonly auditCommitment: Uint8Array;
}

/**
 * Checks a step's commitments against the route and the step: one per hop in route order, each
 * naming the node the route names and this very step, shard 0's input the tokens sent, and each
 * hop's input hash equal to the previous hop's output hash. A break is a HopFailure naming the node
 * whose commitment does not fit (of a broken link, the later one: it claims an input that its
 * predecessor never produced). Each must be dated within COMMITMENT_CLOCK_TOLERANCE_MS of this
 * client's clock: a backdated one would leave less time to request its audit than the registry's
 * request window means to give. Each must bind the session's audit commitment, or a node could
 * make its steps unauditable (the registry accepts requests only for the secret a step binds). Signatures are checked apart, after the next step has gone out (SignatureChecker).
 */
export function checkCommitmentChain(
  commitments: readonly Commitment__Output[],
  route: readonly RouteHop[],
  checked: CheckedStep,
): void {
  const fail = (hop: RouteHop, problem: string): never => {
    throw new HopFailure(
      `commitment of node ${hop.nodeId} (shard ${hop.shardIndex}) at step ${checked.step}: ${problem}`,
      'commitment',
      hop.nodeId,
    );
  };
  if (commitments.length !== route.length)
    fail(route[0]!, `the step result carries ${commitments.length} commitment(s) for a route of ${route.length} hops`);
  const stepId = stepIdOf(checked.sessionId, checked.step);
  const nowMs = Date.now();
  for (let i = 0; i < route.length; i++) {
    const c = commitments[i]!;
    const hop = route[i]!;
    if (c.nodeId !== hop.nodeId || c.shardIndex !== hop.shardIndex)
      fail(hop, `it names node ${c.nodeId} shard ${c.shardIndex}`);
    if (!stepId.equals(c.stepId)) fail(hop, `its step id ${hex(c.stepId)} is not this step's ${hex(stepId)}`);
    if (!Buffer.from(checked.auditCommitment).equals(c.auditCommitment)) {
      fail(
        hop,
        `it binds audit commitment ${hex(c.auditCommitment) || 'none'}, not the ${hex(checked.auditCommitment) || 'none'} the session was opened with`,
      );
    }
    const skewMs = c.timestampMs - nowMs;
    if (!(Math.abs(skewMs) <= COMMITMENT_CLOCK_TOLERANCE_MS)) {
      fail(
        hop,
        `it is dated ${Math.round(Math.abs(skewMs) / 1000)} s ${skewMs < 0 ? 'before' : 'after'} this client's clock (limit ${COMMITMENT_CLOCK_TOLERANCE_MS / 1000} s): its clock is off, or it backdates its commitments`,
      );
    }
    const expectedInput = i === 0 ? sha256(tokenBytes(checked.tokens)) : Buffer.from(commitments[i - 1]!.outputHash);
    if (!expectedInput.equals(c.inputHash)) {
      fail(
        hop,
        `the chain is broken: its input hash ${hex(c.inputHash)} is not ${i === 0 ? 'the hash of the tokens sent' : `shard ${i - 1}'s output hash`} ${hex(expectedInput)}`,
      );
    }
  }
}
