// Durable shares accepted per second by one daemon (a `tessera daemon` process with its default
// signature threads), fed batches of shares over gRPC, each batch signed once by its node; and what
// libsecp256k1 buys over JavaScript for one signature check.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { secp256k1 as noble } from '@noble/curves/secp256k1.js';
import { DaemonClient } from '../src/chain/daemon-client.ts';
import { checkRecords } from '../src/chain/signature-pool.ts';
import { SHARE_BATCH_DOMAIN, signBatch, statementHashOf, type ShareBatch } from '../src/protocol/share-batch.ts';
import { addressOf, generateKeyPair, type KeyPair } from '../src/crypto/keys.ts';
import { signatureDigest } from '../src/crypto/signature.ts';
import { joinNode, spawnDaemon, startChainNetwork, TestSession } from '../test/support/daemon-fixtures.ts';
import { removeDir, tempDir } from '../test/support/registry-fixtures.ts';
import type { BenchRow } from './row.ts';
import { chainSyncRow } from './chain-sync.ts';

export interface ChainBenchOptions {
  /** Fewer shares. */
  readonly quick?: boolean;
}

const BATCH = 1_000;
const IN_FLIGHT = 4;
const TARGET = 20_000;

/** `perNode` shares from each node, spread over the sessions, in batches of BATCH that the node signs: each node sends its own. */
function signedBatches(nodes: readonly KeyPair[], sessions: readonly TestSession[], perNode: number): ShareBatch[] {
  return nodes.flatMap((node, hop) => {
    const shares = Array.from({ length: perNode }, (_, i) => sessions[i % sessions.length]!.share(node, hop));
    return Array.from({ length: Math.ceil(perNode / BATCH) }, (_, b) =>
      signBatch(node, shares.slice(b * BATCH, (b + 1) * BATCH)),
    );
  });
}

async function daemonAcceptRate(quick: boolean): Promise<{ rate: number; threads: number }> {
  const dir = tempDir('bench-chain');
  const network = await startChainNetwork(dir, 1_000);
  const nodes = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const stops = await Promise.all(nodes.map((node, shard) => joinNode(network.registry, node, shard)));
  const client = generateKeyPair();
  const sessions = Array.from(
    { length: 20 },
    (_, i) => new TestSession(client, `bench-${i}`, nodes, [2 ** 32, 2 ** 32, 2 ** 32]),
  );
  const total = quick ? 15_000 : 45_000;
  process.stderr.write(`signing ${total} shares in batches of ${BATCH} ...\n`);
  const batches = signedBatches(nodes, sessions, total / nodes.length);
  const threads = Math.min(8, Math.max(1, availableParallelism() - 1));
  const daemon = await spawnDaemon([
    '--port',
    '0',
    '--registry',
    network.registry,
    '--membership',
    network.membership,
    '--db',
    join(dir, 'chain.db'),
  ]);
  const rpc = new DaemonClient(daemon.endpoint, { deadlineMs: 120_000 });
  try {
    // A node sends the receipts of its sessions along; the daemon checks each only once.
    const receipts = sessions.map((s) => s.receipt);
    // A first batch warms up the connection, the daemon's workers and its membership cache.
    const warm = await rpc.submitShares(batches.slice(0, 1), receipts);
    if (!warm.every((v) => v.accepted))
      throw new Error(`warm-up share refused: ${warm.find((v) => !v.accepted)!.message}`);
    process.stderr.write(`submitting ${total - BATCH} shares in batches of ${BATCH}, ${IN_FLIGHT} in flight ...\n`);
    let next = 1;
    let accepted = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < batches.length) {
          const batch = batches[next++]!;
          const verdicts = await rpc.submitShares([batch], receipts);
          const refused = verdicts.find((v) => !v.accepted);
          if (refused !== undefined) throw new Error(`share refused: ${refused.message}`);
          accepted += verdicts.length;
        }
      }),
    );
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

/** Signature checks (recovering the signer, as the daemon's workers do) per second on this thread: libsecp256k1 against @noble/curves (JavaScript). */
function signatureRates(): { native: number; javascript: number } {
  const node = generateKeyPair();
  const session = new TestSession(generateKeyPair(), 'rates', [node, node]);
  const statements = Array.from({ length: 2_000 }, () => signBatch(node, [session.share(node, 1)]).statement);
  const checks = statements.map((s) => ({
    domain: SHARE_BATCH_DOMAIN,
    payload: statementHashOf(s.payload),
    signature: s.signature,
    signer: node.address,
  }));
  checkRecords(checks.slice(0, 100));
  let started = performance.now();
  if (!checkRecords(checks).every((b) => b === 1)) throw new Error('a good signature failed the check');
  const native = checks.length / ((performance.now() - started) / 1000);
  const some = checks.slice(0, 200);
  started = performance.now();
  for (const c of some) {
    const recovered = Uint8Array.of(c.signature[64]!, ...c.signature.subarray(0, 64));
    if (
      addressOf(noble.recoverPublicKey(recovered, signatureDigest(c.domain, c.payload), { prehash: false })) !==
      c.signer
    )
      throw new Error('a good signature failed the JavaScript check');
  }
  const javascript = some.length / ((performance.now() - started) / 1000);
  return { native, javascript };
}

export async function chainBenchRows(options: ChainBenchOptions = {}): Promise<BenchRow[]> {
  const { rate, threads } = await daemonAcceptRate(options.quick ?? false);
  const { native, javascript } = signatureRates();
  const sync = await chainSyncRow(options.quick ?? false);
  return [
    {
      figure: `durable shares accepted per second, one daemon (${threads} signature thread${threads === 1 ? '' : 's'}, batches of ${BATCH}, one signature each)`,
      ours: rate,
      reference: TARGET,
      referenceName: 'target',
      unit: 'shares/s',
    },
    {
      figure: 'share-batch signatures checked per second, one thread (libsecp256k1)',
      ours: native,
      reference: javascript,
      referenceName: '@noble/curves',
      unit: 'sig/s',
    },
    sync,
  ];
}
