import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { startDaemon } from '../../src/chain/daemon.ts';
import { DaemonClient } from '../../src/chain/daemon-client.ts';
import { shareHashOf, shareSigner } from '../../src/protocol/share.ts';
import { ShareSubmitter } from '../../src/node/share-submitter.ts';
import { daemonRegistry, joinNode, startChainNetwork, TestSession } from '../support/daemon-fixtures.ts';
import { removeDir, tempDir, waitFor } from '../support/registry-fixtures.ts';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('a node signs each batch it sends; shares the daemon cannot take yet are signed and sent again with a later batch', async () => {
  const dir = tempDir('share-submitter');
  cleanups.push(() => removeDir(dir));
  const network = await startChainNetwork(dir);
  cleanups.push(() => network.close());
  const daemon = await startDaemon({
    port: 0,
    dbPath: join(dir, 'chain.db'),
    ...daemonRegistry(network, generateKeyPair()),
    params: { blockIntervalMs: 150 },
    verifyThreads: 0,
  });
  cleanups.push(() => daemon.close());
  const node = generateKeyPair();
  const events: { event: string; fields: Record<string, unknown> }[] = [];
  // Flushed by hand: the timer never fires within the test.
  const submitter = new ShareSubmitter({
    daemon: daemon.endpoint,
    key: node,
    flushIntervalMs: 3_600_000,
    log: (event, fields = {}) => events.push({ event, fields }),
  });
  cleanups.push(() => submitter.close(0));
  const session = new TestSession(generateKeyPair(), 'submitter', [node, node]);
  const shares = Array.from({ length: 5 }, () => session.share(node, 1));
  submitter.add(shares, session.receipt);

  // Not registered yet: the daemon refuses every share as from an unknown node, which may pass.
  await submitter.flush();
  assert.deepEqual([submitter.accepted, submitter.queued], [0, 5]);
  assert.deepEqual(events, []);

  cleanups.push(await joinNode(network.registry, node, 1));
  await submitter.flush();
  assert.deepEqual([submitter.accepted, submitter.queued], [5, 0]);

  const rpc = new DaemonClient(daemon.endpoint);
  cleanups.push(() => rpc.close());
  const inBlocks = await waitFor('the shares in blocks', async () => {
    const { head, pendingShares } = await rpc.head();
    if (pendingShares > 0 || head.header.height === 0) return undefined;
    return (await rpc.blocks(1, head.header.height)).blocks.flatMap((b) => b.shares);
  });
  assert.deepEqual(
    inBlocks.map((s) => shareHashOf(s.payload).toString('hex')),
    shares.map((s) => shareHashOf(s).toString('hex')),
  );
  assert.ok(
    inBlocks.every((s) => shareSigner(s) === node.address),
    'each share is vouched for by a statement the node signed',
  );
});
