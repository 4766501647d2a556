import type { Commitment__Output } from '../proto/tessera/v1/Commitment.ts';
import type { StepSignatures__Output } from '../proto/tessera/v1/StepSignatures.ts';
import { relayedHashOf, SIGNATURE_BYTES } from '../protocol/commitment.ts';
import { describeHop, relayFailure, ResultRefusal } from './commitment-chain.ts';
import { HopFailure } from './pipeline-session.ts';
import type { RouteHop } from './routing.ts';

/**
 * A step's commitments as received (signatures empty) with the signatures that followed them
 * (proto/tessera/v1/node.proto, the rule above Node), one per commitment in order, each relay's with
 * the hash of the signatures after it, which its signature covers; a missing signature stays empty,
 * and so fails any check, as does a relay's above a signature that is not 65 bytes.
 */
export function joinSignatures(
  commitments: readonly Commitment__Output[],
  signatures: StepSignatures__Output,
): Commitment__Output[] {
  const received = commitments.map((_, i) => signatures.signatures[i] ?? Buffer.alloc(0));
  return commitments.map((c, i) => ({
    ...c,
    relayedHash: i === commitments.length - 1 ? Buffer.alloc(0) : (relayedHashOf(received.slice(i + 1)) ?? NOT_HASHED),
    signature: received[i]!,
  }));
}

/** Stands for the relayed hash of signatures that have none: 31 bytes, so no commitment over it checks. */
const NOT_HASHED = Buffer.alloc(31);

/**
 * The step's commitments signed, once every signature that followed them checks (`check` resolves
 * with the index of the first commitment not signed by the node it names, or -1); the client acts on
 * a step only then. Each relay signed the hash of the signatures below it, having checked its next
 * hop's: a signature that does not check is the failure of the hop above it, which vouched for it,
 * and the first hop's when it is its own, or when the signatures do not come one for each
 * commitment, 65 bytes each (every relay checks that much of all it relays).
 */
export async function signedCommitments(
  commitments: readonly Commitment__Output[],
  signatures: StepSignatures__Output,
  route: readonly RouteHop[],
  step: number,
  check: (commitments: readonly Commitment__Output[]) => Promise<number>,
): Promise<Commitment__Output[]> {
  if (signatures.signatures.length !== commitments.length)
    throw relayFailure(
      route,
      step,
      ResultRefusal.COMMITMENT_UNSIGNED,
      `${signatures.signatures.length} signature(s) followed ${commitments.length} commitment(s)`,
    );
  const short = signatures.signatures.findIndex((s) => s.length !== SIGNATURE_BYTES);
  if (short >= 0)
    throw relayFailure(
      route,
      step,
      ResultRefusal.COMMITMENT_UNSIGNED,
      `the signature of ${describeHop(route, short)} has ${signatures.signatures[short]!.length} bytes, not ${SIGNATURE_BYTES}`,
    );
  const signed = joinSignatures(commitments, signatures);
  const bad = await check(signed);
  if (bad === 0)
    throw relayFailure(
      route,
      step,
      ResultRefusal.COMMITMENT_UNSIGNED,
      `the commitment of ${describeHop(route, 0)} is not signed by it over the signatures it relayed`,
    );
  if (bad > 0) {
    const voucher = route[bad - 1]!;
    throw new HopFailure(
      `step ${step}: ${describeHop(route, bad - 1)} signed for the signatures below it, and the commitment of ${describeHop(route, bad)} among them is not signed by it`,
      'commitment',
      voucher.nodeId,
      ResultRefusal.COMMITMENT_UNSIGNED,
    );
  }
  return signed;
}
