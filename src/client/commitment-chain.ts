import { hex, sha256 } from '../crypto/hash.ts';
import {
  COMMITMENT_CLOCK_TOLERANCE_MS,
  resultHashOf,
  stepIdOf,
  tokenBytes,
  verifyCommitment,
  type SamplingContext,
} from '../protocol/commitment.ts';
import type { Commitment__Output } from '../proto/tessera/v1/Commitment.ts';
import type { SampledToken__Output } from '../proto/tessera/v1/SampledToken.ts';
import { formatSpan, spanOf } from '../model/shards/span.ts';
import { HopFailure } from './pipeline-session.ts';
import type { RouteHop } from './routing.ts';

/**
 * Why the client refused a step's result (HopFailure.reason, kind 'commitment'). Callers and tests
 * match these, never the message.
 */
export const ResultRefusal = {
  /** A commitment does not fit the route or the step (node, step id, audit commitment, time, chain). */
  COMMITMENT_MISMATCH: 'COMMITMENT_MISMATCH',
  /** A commitment is not signed by the node it names (or its signature is missing from those that followed it). */
  COMMITMENT_UNSIGNED: 'COMMITMENT_UNSIGNED',
  /**
   * A step's signatures did not come when they were owed: before the next step's result, before
   * Closed, or before the stream ended (proto/tessera/v1/node.proto, the rule above Node).
   */
  SIGNATURES_WITHHELD: 'SIGNATURES_WITHHELD',
  /** The last hop's commitment does not cover the token and logprobs received. */
  RESULT_NOT_COVERED: 'RESULT_NOT_COVERED',
} as const;

export interface CheckedStep {
  readonly sessionId: string;
  readonly step: number;
  /** The token ids this step sent to the first hop (the one that takes token ids). */
  readonly tokens: readonly number[];
  /** The audit commitment the session was opened with; empty for none. */
  readonly auditCommitment: Uint8Array;
}

/**
 * The failure of a route whose first hop handed over a result it should not have: every hop checks
 * the commitments and the result its next hop returns before relaying them (src/node/relay-check.ts),
 * so an honest first hop never delivers one that fails a check here, and whoever tampered below it
 * was refused there. The first hop is held to it.
 */
export function relayFailure(route: readonly RouteHop[], step: number, reason: string, problem: string): HopFailure {
  const first = route[0]!;
  return new HopFailure(
    `step ${step} through first hop ${first.nodeId}: ${problem}`,
    'commitment',
    first.nodeId,
    reason,
  );
}

/** "node 0x… (hop 1, shards 3–7)": a hop as messages name it, by its position and its span. */
export function describeHop(route: readonly RouteHop[], position: number): string {
  const hop = route[position]!;
  return `node ${hop.nodeId} (hop ${position}, ${formatSpan(spanOf(hop))})`;
}

/**
 * Checks a step's commitments against the route and the step: one per hop in route order
 * (commitments[i] is hop i's), each naming the node and the exact span the route gives that hop
 * (the span it ran, not the larger one its node may hold) and this very step; the first hop's input
 * the tokens sent, and each hop's input hash equal to the previous hop's output hash. A break is a
 * HopFailure naming the node whose commitment does not fit (of a broken link, the later one: it
 * claims an input that its predecessor never produced). Each must be dated within
 * COMMITMENT_CLOCK_TOLERANCE_MS of this client's clock: a backdated one would leave less time to
 * request its audit than the registry's request window means to give. Each must bind the session's
 * audit commitment, or a node could make its steps unauditable (the registry accepts requests only
 * for the secret a step binds). Signatures are checked apart, after the next step has gone out
 * (SignatureChecker); a commitment that does not fit is pinned on the hop's node only once its
 * signature shows that node signed it, else on the first hop (relayFailure), which relayed it: a
 * commitment in the wrong place, even one its own node signed, is a relay's doing.
 */
export function checkCommitmentChain(
  commitments: readonly Commitment__Output[],
  route: readonly RouteHop[],
  checked: CheckedStep,
): void {
  const fail = (position: number, problem: string): never => {
    const message = `commitment of ${describeHop(route, position)} at step ${checked.step}: ${problem}`;
    const c = commitments[position];
    // pinned on the node the route names there only when that node signed it
    if (c === undefined || c.nodeId !== route[position]!.nodeId || !verifyCommitment(c))
      throw relayFailure(route, checked.step, ResultRefusal.COMMITMENT_MISMATCH, message);
    throw new HopFailure(message, 'commitment', route[position]!.nodeId, ResultRefusal.COMMITMENT_MISMATCH);
  };
  if (commitments.length !== route.length)
    fail(0, `the step result carries ${commitments.length} commitment(s) for a route of ${route.length} hops`);
  const stepId = stepIdOf(checked.sessionId, checked.step);
  const nowMs = Date.now();
  for (let i = 0; i < route.length; i++) {
    const c = commitments[i]!;
    const hop = route[i]!;
    if (c.nodeId !== hop.nodeId || c.shardIndex !== hop.shardIndex || c.shardEnd !== hop.shardEnd)
      fail(i, `it names node ${c.nodeId} running shards [${c.shardIndex}, ${c.shardEnd})`);
    if (!stepId.equals(c.stepId)) fail(i, `its step id ${hex(c.stepId)} is not this step's ${hex(stepId)}`);
    if (!Buffer.from(checked.auditCommitment).equals(c.auditCommitment)) {
      fail(
        i,
        `it binds audit commitment ${hex(c.auditCommitment) || 'none'}, not the ${hex(checked.auditCommitment) || 'none'} the session was opened with`,
      );
    }
    const skewMs = c.timestampMs - nowMs;
    if (!(Math.abs(skewMs) <= COMMITMENT_CLOCK_TOLERANCE_MS)) {
      fail(
        i,
        `it is dated ${Math.round(Math.abs(skewMs) / 1000)} s ${skewMs < 0 ? 'before' : 'after'} this client's clock (limit ${COMMITMENT_CLOCK_TOLERANCE_MS / 1000} s): its clock is off, or it backdates its commitments`,
      );
    }
    const expectedInput = i === 0 ? sha256(tokenBytes(checked.tokens)) : Buffer.from(commitments[i - 1]!.outputHash);
    if (!expectedInput.equals(c.inputHash)) {
      fail(
        i,
        `the chain is broken: its input hash ${hex(c.inputHash)} is not ${i === 0 ? 'the hash of the tokens sent' : `hop ${i - 1}'s output hash`} ${hex(expectedInput)}`,
      );
    }
  }
}

/**
 * Checks that the last hop's commitment covers the result received, sampled with what this client
 * sent (`context`: the position, its sampling settings, the history): its result hash is that of
 * both, as src/protocol/commitment.ts lays them out; and that no other hop claims a result. A hop
 * that rewrote the token or a logprob on the way up, or the settings or history on the way down,
 * fails it. Run after checkCommitmentChain; the last commitment's signature is checked with the
 * others.
 */
export function checkResultCovered(
  commitments: readonly Commitment__Output[],
  route: readonly RouteHop[],
  step: number,
  sampled: SampledToken__Output,
  context: SamplingContext,
): void {
  const fail = (problem: string): never => {
    throw relayFailure(route, step, ResultRefusal.RESULT_NOT_COVERED, problem);
  };
  commitments.slice(0, -1).forEach((c, position) => {
    if (c.resultHash.length !== 0)
      fail(`the commitment of ${describeHop(route, position)}, not the last, claims a result`);
  });
  const last = commitments.at(-1)!;
  const received = resultHashOf(sampled, context);
  if (!received.equals(last.resultHash)) {
    fail(
      `token ${sampled.token} (logprob ${sampled.logprob}, ${sampled.top.length} alternatives) sampled at position ${context.position} with this client's settings and history hashes to ${hex(received)}, but the last hop's commitment covers ${hex(last.resultHash) || 'no result'}`,
    );
  }
}
