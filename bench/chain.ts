// Durable shares accepted per second by one daemon (a `tessera daemon` process with its default
// signature threads), fed pre-signed batches over gRPC; and what libsecp256k1 buys over JavaScript
// for one signature check.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { secp256k1 as noble } from '@noble/curves/secp256k1.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { DaemonClient } from '../src/chain/daemon-client.ts';
import type { SignedRecord } from '../src/chain/record.ts';
import { SHARE_DOMAIN } from '../src/chain/share.ts';
import { checkRecords } from '../src/chain/signature-pool.ts';
import { generateKeyPair, type KeyPair } from '../src/crypto/keys.ts';
import { signatureDigest } from '../src/crypto/signature.ts';
import { joinNode, spawnDaemon, startChainNetwork, TestSession } from '../test/daemon-fixtures.ts';
import { removeDir, tempDir } from '../test/registry-fixtures.ts';
import type { SignJob } from './chain-signer.ts';
import type { BenchRow } from './row.ts';

export interface ChainBenchOptions {
  /** Fewer shares. */
  readonly quick?: boolean;
}

const BATCH = 1_000;
const IN_FLIGHT = 4;
const TARGET = 20_000;

/** `perNode` shares from each node, spread over the sessions, signed on worker threads; each node's shares together, as each node submits its own. */
async function signShares(nodes: readonly KeyPair[], sessions: readonly TestSession[], perNode: number): Promise<SignedRecord[]> {
  const threads = Math.max(1, availableParallelism());
  const jobs: SignJob[] = [];
  nodes.forEach((node, shardIndex) => {
    const perSession = Math.ceil(perNode / sessions.length);
    sessions.forEach((session, s) => {
      for (let first = 0; first < perSession; first += 2_000) {
        jobs.push({ secretKey: bytesToHex(node.secretKey), shardIndex, sessionHash: session.sessionHash, receiptHash: session.receiptHash, first: s * perSession + first, count: Math.min(2_000, perSession - first) });
      }
    });
  });
  const workers = Array.from({ length: Math.min(threads, jobs.length) }, () => new Worker(new URL('./chain-signer.js', import.meta.url)));
  const results: SignedRecord[][] = new Array(jobs.length);
  let next = 0;
  try {
    await Promise.all(workers.map((worker) => new Promise<void>((resolve, reject) => {
      let index = -1;
      const take = () => {
        if (next >= jobs.length) return resolve();
        index = next++;
        worker.postMessage(jobs[index]);
      };
      worker.on('message', (signed: SignedRecord[]) => {
        results[index] = signed;
        take();
      });
      worker.on('error', reject);
      take();
    })));
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results.flat();
}

async function daemonAcceptRate(quick: boolean): Promise<{ rate: number; threads: number }> {
  const dir = tempDir('bench-chain');
  const network = await startChainNetwork(dir, 1_000);
  const nodes = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const stops = await Promise.all(nodes.map((node, shard) => joinNode(network.registry, node, shard)));
  const client = generateKeyPair();
  const sessions = Array.from({ length: 20 }, (_, i) => new TestSession(client, `bench-${i}`, [10 ** 9, 10 ** 9, 10 ** 9]));
  const total = quick ? 15_000 : 45_000;
  process.stderr.write(`signing ${total} shares ...\n`);
  const shares = await signShares(nodes, sessions, total / nodes.length);
  const threads = Math.min(8, Math.max(1, availableParallelism() - 1));
  const daemon = await spawnDaemon(['--port', '0', '--registry', network.registry, '--membership', network.membership, '--db', join(dir, 'chain.db')]);
  const rpc = new DaemonClient(daemon.endpoint, { deadlineMs: 120_000 });
  try {
    // A node sends the receipts of its sessions along; the daemon checks each only once.
    const receipts = sessions.map((s) => s.receipt);
    // A first batch warms up the connection, the daemon's workers and its membership cache.
    const warm = await rpc.submitShares(shares.slice(0, BATCH), receipts);
    if (!warm.every((v) => v.accepted)) throw new Error(`warm-up share refused: ${warm.find((v) => !v.accepted)!.message}`);
    process.stderr.write(`submitting ${shares.length - BATCH} shares in batches of ${BATCH}, ${IN_FLIGHT} in flight ...\n`);
    let next = BATCH;
    let accepted = 0;
    const started = performance.now();
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (next < shares.length) {
        const batch = shares.slice(next, next + BATCH);
        next += BATCH;
        const verdicts = await rpc.submitShares(batch, receipts);
        const refused = verdicts.find((v) => !v.accepted);
        if (refused !== undefined) throw new Error(`share refused: ${refused.message}`);
        accepted += verdicts.length;
      }
    }));
    return { rate: accepted / ((performance.now() - started) / 1000), threads };
  } finally {
    rpc.close();
    daemon.child.kill('SIGTERM');
    await daemon.exited;
    for (const stop of stops) await stop();
    await network.close();
    removeDir(dir);
  }
}

/** Share signature checks per second on this thread: libsecp256k1 (what the daemon's workers run) against @noble/curves (JavaScript). */
function signatureRates(): { native: number; javascript: number } {
  const node = generateKeyPair();
  const session = new TestSession(generateKeyPair(), 'rates');
  const shares = Array.from({ length: 2_000 }, () => session.share(node, 1));
  const checks = shares.map((s) => ({ domain: SHARE_DOMAIN, payload: s.payload, signature: s.signature, publicKey: node.publicKey }));
  checkRecords(checks.slice(0, 100));
  let started = performance.now();
  if (!checkRecords(checks).every((b) => b === 1)) throw new Error('a good signature failed the check');
  const native = checks.length / ((performance.now() - started) / 1000);
  const some = checks.slice(0, 200);
  started = performance.now();
  for (const c of some) {
    if (!noble.verify(c.signature.subarray(0, 64), signatureDigest(c.domain, c.payload), c.publicKey, { prehash: false })) throw new Error('a good signature failed the JavaScript check');
  }
  const javascript = some.length / ((performance.now() - started) / 1000);
  return { native, javascript };
}

export async function chainBenchRows(options: ChainBenchOptions = {}): Promise<BenchRow[]> {
  const { rate, threads } = await daemonAcceptRate(options.quick ?? false);
  const { native, javascript } = signatureRates();
  return [
    { figure: `durable shares accepted per second, one daemon (${threads} signature thread${threads === 1 ? '' : 's'}, batches of ${BATCH})`, ours: rate, reference: TARGET, referenceName: 'target', unit: 'shares/s' },
    { figure: 'share signatures checked per second, one thread (libsecp256k1)', ours: native, reference: javascript, referenceName: '@noble/curves', unit: 'sig/s' },
  ];
}
