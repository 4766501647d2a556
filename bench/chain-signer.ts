// Signs the benchmark's shares on a worker thread: signing costs as much as checking, and the
// benchmark measures the daemon, not how fast it can make its load.
import { parentPort } from 'node:worker_threads';
import { hexToBytes } from '@noble/hashes/utils.js';
import { signShare, WEIGHT_ONE } from '../src/chain/share.ts';
import { keyPairFromSecret } from '../src/crypto/keys.ts';

export interface SignJob {
  readonly secretKey: string;
  readonly shardIndex: number;
  readonly sessionHash: string;
  readonly receiptHash: string;
  readonly first: number;
  readonly count: number;
}

parentPort!.on('message', (job: SignJob) => {
  const key = keyPairFromSecret(hexToBytes(job.secretKey));
  const shares = [];
  for (let i = job.first; i < job.first + job.count; i++) {
    shares.push(signShare(key, {
      nodeId: key.address, shardIndex: job.shardIndex, tokensProcessed: 1, weight: WEIGHT_ONE, timestampMs: 1_700_000_000_000 + i,
      sessionHash: job.sessionHash, receiptHash: job.receiptHash,
    }));
  }
  parentPort!.postMessage(shares);
});
