import { verifyCommitment, type SignedCommitment } from '../protocol/commitment.ts';

/**
 * Checks commitment signatures on the client's thread, but in a later turn of the event loop: the
 * next step goes out first, and the checks (tens of microseconds each with libsecp256k1) run while
 * the route computes it.
 */
export class SignatureChecker {
  /** Resolves with the index of the first commitment not signed by the node it names, or -1. */
  check(commitments: readonly SignedCommitment[]): Promise<number> {
    return new Promise((resolve) => setImmediate(() => resolve(commitments.findIndex((c) => !verifyCommitment(c)))));
  }
}
