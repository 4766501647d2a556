import { hex } from '../crypto/hash.ts';
import {
  relayedHashOf,
  resultHashOf,
  SIGNATURE_BYTES,
  verifyCommitment,
  type SamplingContext,
} from '../protocol/commitment.ts';
import { ForwardReason, NodeStatusError, type FailedHop } from '../protocol/forward-status.ts';
import type { Commitment__Output } from '../proto/tessera/v1/Commitment.ts';
import type { Hop__Output } from '../proto/tessera/v1/Hop.ts';
import type { StepResult__Output } from '../proto/tessera/v1/StepResult.ts';
import type { StepSignatures__Output } from '../proto/tessera/v1/StepSignatures.ts';
import { formatSpan, spanOf } from '../model/shards/span.ts';

const NONE = Buffer.alloc(0);

/** A result or signatures from the next hop that do not fit: its failure, as it is the one that sent them. */
function badResult(route: readonly Hop__Output[], position: number, problem: string): never {
  const next = route[position + 1]!;
  const failed: FailedHop = { nodeId: next.nodeId, shardIndex: position + 1 };
  throw new NodeStatusError(
    ForwardReason.NEXT_HOP_BAD_RESULT,
    'internal',
    `the result relayed by node ${next.nodeId} (hop ${position + 1}, ${formatSpan(spanOf(next))}) does not fit its route: ${problem}`,
    failed,
  );
}

/**
 * Checks what the next hop returned before this node relays it (`position`: this node's hop in the
 * route): one commitment per later hop, each naming the node and the span the route names, the first one's input this node's output, and the last one's
 * result hash that of the result relayed, sampled with what this node passed on (`context`). The
 * signatures follow in the next hop's StepSignatures (checkRelayedSignatures). A client holds the
 * first hop to what reaches it (an honest hop never relays a result it could not vouch for), so a
 * hop that relayed without checking would take the blame for whoever tampered below it.
 */
export function checkRelayedResult(
  result: StepResult__Output,
  route: readonly Hop__Output[],
  position: number,
  outputHash: Uint8Array,
  context: SamplingContext,
): void {
  const fail = (problem: string): never => badResult(route, position, problem);
  const later = route.slice(position + 1);
  const { commitments } = result;
  if (commitments.length !== later.length)
    fail(`it carries ${commitments.length} commitment(s) for ${later.length} later hop(s)`);
  if (!result.sampled) fail('it holds no sampled token');
  commitments.forEach((c, i) => {
    const hop = later[i]!;
    const last = i === later.length - 1;
    if (c.nodeId !== hop.nodeId || c.shardIndex !== hop.shardIndex || c.shardEnd !== hop.shardEnd)
      fail(
        `commitment ${i} names node ${c.nodeId} for shards [${c.shardIndex}, ${c.shardEnd}), the route node ${hop.nodeId} for [${hop.shardIndex}, ${hop.shardEnd})`,
      );
    if (!last && c.resultHash.length !== 0) fail(`the commitment of hop ${position + 1 + i} claims a result`);
  });
  if (!Buffer.from(outputHash).equals(commitments[0]!.inputHash))
    fail(`its input hash ${hex(commitments[0]!.inputHash)} is not this node's output hash ${hex(outputHash)}`);
  const expected = resultHashOf(result.sampled!, context);
  if (!expected.equals(commitments.at(-1)!.resultHash))
    fail(
      `the last hop's result hash ${hex(commitments.at(-1)!.resultHash) || 'none'} does not cover the token relayed, sampled with the settings, position and history passed on`,
    );
}

/**
 * Checks the next hop's StepSignatures for the step whose commitments (`relayed`, as this node
 * relayed them) it returned last: one per commitment, 65 bytes each, and the first, the next hop's
 * own, by the node its commitment names over exactly those fields and the hash of the signatures
 * after it (relayedHashOf): the next hop vouched for those when it signed, so they are its to answer
 * for, and this node checks one signature, not all of them. Returns the signatures, to be relayed
 * after this node's own, which covers all of them.
 */
export function checkRelayedSignatures(
  signatures: StepSignatures__Output,
  step: number,
  relayed: readonly Commitment__Output[],
  route: readonly Hop__Output[],
  position: number,
): Buffer[] {
  const fail = (problem: string): never => badResult(route, position, problem);
  if (signatures.step !== step) fail(`it sent the signatures of step ${signatures.step}, not of step ${step}`);
  const received = signatures.signatures;
  if (received.length !== relayed.length)
    fail(`it sent ${received.length} signature(s) of step ${step} for ${relayed.length} commitment(s)`);
  if (received.some((s) => s.length !== SIGNATURE_BYTES))
    fail(`a signature of step ${step} is not ${SIGNATURE_BYTES} bytes`);
  const below = received.slice(1);
  // the last hop signs no relayed hash: whatever its fields on the wire claim, none is checked
  const relayedHash = below.length === 0 ? NONE : relayedHashOf(below)!;
  const next = relayed[0]!;
  if (!verifyCommitment({ ...next, relayedHash, signature: received[0]! }))
    fail(
      `the commitment of hop ${position + 1} at step ${step} is not signed by node ${next.nodeId}${below.length > 0 ? ' over the signatures it relayed' : ''}`,
    );
  return received;
}
