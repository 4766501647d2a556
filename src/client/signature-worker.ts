// Checks commitment signatures off the client's main thread: each check recovers a secp256k1 key
// (milliseconds), which would otherwise stall the token stream once per hop and token.
import { parentPort } from 'node:worker_threads';
import { verifyCommitment, type SignedCommitment } from '../audit/commitment.ts';

export interface SignatureJob {
  readonly id: number;
  readonly commitments: readonly SignedCommitment[];
}

export interface SignatureVerdict {
  readonly id: number;
  /** Index of the first commitment whose signature is not its node's; -1 when all are. */
  readonly bad: number;
}

parentPort!.on('message', (job: SignatureJob) => {
  const verdict: SignatureVerdict = { id: job.id, bad: job.commitments.findIndex((c) => !verifyCommitment(c)) };
  parentPort!.postMessage(verdict);
});
