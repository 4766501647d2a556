import { hex } from '../../src/crypto/hash.ts';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateKeyPair, writeNewKeyFile } from '../../src/crypto/keys.ts';

import { DaemonClient } from '../../src/chain/daemon-client.ts';
import { shareHashOf } from '../../src/protocol/share.ts';
import { signBatch } from '../../src/protocol/share-batch.ts';
import type { ChildProcess } from 'node:child_process';
import {
  joinNode,
  spawnDaemon,
  startChainNetwork,
  TestSession,
  type ChainNetwork,
} from '../support/daemon-fixtures.ts';
import { removeDir, tempDir, waitFor } from '../support/registry-fixtures.ts';

const TESSERA = join(import.meta.dirname, '..', '..', 'bin', 'tessera.js');
let dir: string;
let network: ChainNetwork;
let stopNode: () => Promise<void>;
const node = generateKeyPair();
const client = generateKeyPair();
const daemons: { child: ChildProcess; exited: Promise<unknown> }[] = [];

async function startDaemonProcess(): Promise<{
  child: ChildProcess;
  endpoint: string;
  started: Record<string, unknown>;
}> {
  const daemon = await spawnDaemon([
    '--port',
    '0',
    '--registry',
    network.registry,
    '--membership',
    network.membership,
    '--db',
    join(dir, 'chain.db'),
    '--key',
    join(dir, 'daemon.key'),
    '--block-interval-ms',
    '300',
    '--max-shares-per-block',
    '40',
    '--window-blocks',
    '3',
    '--verify-threads',
    '1',
  ]);
  daemons.push(daemon);
  return daemon;
}

before(async () => {
  dir = tempDir('daemon-crash');
  writeNewKeyFile(join(dir, 'daemon.key'));
  network = await startChainNetwork(dir);
  stopNode = await joinNode(network.registry, node, 1);
});

after(async () => {
  for (const d of daemons) d.child.kill('SIGKILL');
  await Promise.all(daemons.map((d) => d.exited));
  await stopNode?.();
  await network?.close();
  removeDir(dir);
});

/** Every share hash on the daemon's canonical chain, with how often it occurs. */
async function chainShares(rpc: DaemonClient): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const { head } = await rpc.head();
  for (let next = 1; next <= head.header.height;) {
    const { blocks } = await rpc.blocks(next, head.header.height);
    for (const block of blocks) {
      for (const share of block.shares) {
        const h = shareHashOf(share.payload).toString('hex');
        counts.set(h, (counts.get(h) ?? 0) + 1);
      }
    }
    next = blocks.at(-1)!.header.height + 1;
  }
  return counts;
}

let endpoint: string;

test('kill -9 under load: after a restart every acknowledged share is in a block, none twice', async () => {
  const first = await startDaemonProcess();
  const rpc = new DaemonClient(first.endpoint);
  const acknowledged: string[] = [];
  const sent: Uint8Array[] = [];
  const session = new TestSession(client, 'load', [node, node]);
  let failure: Error | undefined;
  // Two submitters, so the kill lands with batches in flight.
  const submitter = async () => {
    while (failure === undefined) {
      const batch = Array.from({ length: 100 }, () => session.share(node, 1));
      try {
        const verdicts = await rpc.submitShares([signBatch(node, batch)], [session.receipt]);
        for (const [i, v] of verdicts.entries()) {
          assert.equal(v.accepted, true, v.message);
          acknowledged.push(hex(v.shareHash));
          sent.push(batch[i]!);
        }
      } catch (error) {
        failure = error as Error;
      }
    }
  };
  const load = Promise.all([submitter(), submitter()]);
  await waitFor('a few hundred acknowledged shares', () => acknowledged.length >= 600, 60_000);
  first.child.kill('SIGKILL');
  await load;
  assert.match(failure!.message, /UNAVAILABLE|CANCELLED|Connection dropped/);
  rpc.close();
  const killedAt = acknowledged.length;

  const second = await startDaemonProcess();
  endpoint = second.endpoint;
  // Blocks take fewer shares than the load sends, so the kill found acknowledged shares not yet in a block.
  assert.ok(
    Number(second.started.pendingShares) > 0,
    `${second.started.pendingShares} shares were pending at the restart`,
  );
  const again = new DaemonClient(endpoint);
  try {
    await waitFor(
      'every pending share in a block after the restart',
      async () => (await again.head()).pendingShares === 0,
      120_000,
    );
    const counts = await chainShares(again);
    assert.equal(acknowledged.length, killedAt);
    for (const h of acknowledged) assert.equal(counts.get(h), 1, `acknowledged share ${h} exactly once on the chain`);
    assert.ok(
      [...counts.values()].every((n) => n === 1),
      'no share counted twice',
    );
    // Acknowledged before the kill, still known after it: a resubmission is a duplicate.
    const replay = await again.submitShares([signBatch(node, sent.slice(0, 200))], [session.receipt]);
    assert.deepEqual(new Set(replay.map((v) => v.rejection)), new Set(['SHARE_DUPLICATE']));
  } finally {
    again.close();
  }
});

const exec = promisify(execFile);
const tessera = async (...args: string[]) =>
  (await exec(process.execPath, [TESSERA, ...args], { encoding: 'utf8' })).stdout;

test('tessera chain blocks, block and summary show the chain, as text and as JSON', async () => {
  const rpc = new DaemonClient(endpoint);
  try {
    const { head } = await rpc.head();
    const blocks = JSON.parse(
      await tessera(
        'chain',
        'blocks',
        '--daemon',
        endpoint,
        '--from',
        '1',
        '--to',
        String(head.header.height),
        '--json',
      ),
    ) as { hash: string; height: number; shareCount: number }[];
    assert.deepEqual(
      blocks.map((b) => b.height),
      Array.from({ length: head.header.height }, (_, i) => i + 1),
    );
    const busiest = blocks.reduce((a, b) => (b.shareCount > a.shareCount ? b : a));
    const block = await rpc.block(busiest.height);
    assert.equal(busiest.hash, hex(block.hash));
    const shown = JSON.parse(
      await tessera('chain', 'block', String(busiest.height), '--daemon', endpoint, '--json'),
    ) as { hash: string; shares: { hash: string; nodeId: string }[] };
    assert.equal(shown.hash, busiest.hash);
    assert.deepEqual(
      shown.shares.map((s) => s.hash),
      block.shares.map((s) => shareHashOf(s.payload).toString('hex')),
    );
    assert.ok(shown.shares.every((s) => s.nodeId === node.address));
    const text = await tessera('chain', 'blocks', '--daemon', endpoint);
    assert.match(text, /^height\s+hash\s+producer\s+time\s+shares\s+tokens\s+fee\/token$/m);
    const shownText = await tessera('chain', 'block', String(busiest.height), '--daemon', endpoint);
    assert.match(shownText, new RegExp(`^block ${busiest.height}  ${busiest.hash}$`, 'm'));
    // A share's column is its hop: the node's position in its receipt's route.
    assert.match(shownText, /^share\s+node\s+hop\s+tokens\s+session$/m);

    const summary = await rpc.settlementSummary(0);
    const json = JSON.parse(await tessera('chain', 'summary', '0', '--daemon', endpoint, '--json')) as {
      hash: string;
      totalTokens: number;
    };
    assert.equal(json.hash, summary.hash);
    assert.equal(json.totalTokens, summary.totalTokens);
    assert.match(
      await tessera('chain', 'summary', '0', '--daemon', endpoint),
      new RegExp(`^hash        ${summary.hash}$`, 'm'),
    );
    await assert.rejects(
      tessera('chain', 'summary', '100000', '--daemon', endpoint),
      /FAILED_PRECONDITION: settlement window 100000 ends at height 300003/,
    );
  } finally {
    rpc.close();
  }
});
