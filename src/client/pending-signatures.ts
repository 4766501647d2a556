import type { Commitment__Output } from '../proto/tessera/v1/Commitment.ts';
import type { StepSignatures__Output } from '../proto/tessera/v1/StepSignatures.ts';
import { describeHop, relayFailure, ResultRefusal } from './commitment-chain.ts';
import type { RouteHop } from './routing.ts';

/**
 * A step's commitments as received (signatures empty) with the signatures that followed them
 * (proto/tessera/v1/node.proto, the rule above Node), one per commitment in order; a missing one
 * stays empty, and so fails any check.
 */
export function joinSignatures(
  commitments: readonly Commitment__Output[],
  signatures: StepSignatures__Output,
): Commitment__Output[] {
  return commitments.map((c, i) => ({ ...c, signature: signatures.signatures[i] ?? Buffer.alloc(0) }));
}

/**
 * The step's commitments signed, once every signature that followed them checks (`check` resolves
 * with the index of the first commitment not signed by the node it names, or -1); the client acts on
 * a step only then. Every hop checks the signatures below it before relaying them, so one that does
 * not check, or a missing one, is the first hop's failure (it delivered it).
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
  const signed = joinSignatures(commitments, signatures);
  const bad = await check(signed);
  if (bad >= 0)
    throw relayFailure(
      route,
      step,
      ResultRefusal.COMMITMENT_UNSIGNED,
      `the commitment of ${describeHop(route, bad)} is not signed by it`,
    );
  return signed;
}
