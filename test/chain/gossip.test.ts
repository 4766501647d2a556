import { hex } from '../../src/crypto/hash.ts';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/keys.ts';

import { startDaemon, type DaemonHandle } from '../../src/chain/daemon.ts';
import { DaemonClient } from '../../src/chain/daemon-client.ts';
import { signBatch } from '../../src/protocol/share-batch.ts';
import { Metrics } from '../../src/metrics/metrics.ts';
import { daemonRegistry, joinNode, Relay, startChainNetwork, TestSession } from '../support/daemon-fixtures.ts';
import { removeDir, tempDir, waitFor } from '../support/registry-fixtures.ts';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** How often each share hash occurs on a daemon's canonical chain up to `height`. */
function shareCounts(daemon: DaemonHandle, height: number): Map<string, number> {
  const counts = new Map<string, number>();
  const { chain } = daemon;
  for (let h = 1; h <= height; h++) {
    for (const share of chain.store.blockShareRows(chain.canonicalBlock(h)!.hash))
      counts.set(hex(share.hash), (counts.get(hex(share.hash)) ?? 0) + 1);
  }
  return counts;
}

const hashAt = (daemon: DaemonHandle, height: number) => {
  const row = daemon.chain.canonicalBlock(height);
  return row === undefined ? undefined : hex(row.hash);
};

test('two daemons cut off from each other build their own forks, then converge on one chain with every share once', async () => {
  const dir = tempDir('daemon-gossip');
  cleanups.push(() => removeDir(dir));
  const network = await startChainNetwork(dir);
  cleanups.push(() => network.close());
  const node = generateKeyPair();
  cleanups.push(await joinNode(network.registry, node, 1));

  // Each daemon advertises a relay, so the test can cut the gossip between them and keep the registry reachable.
  const daemons: DaemonHandle[] = [];
  const metrics = [new Metrics(), new Metrics()];
  const relays = [0, 1].map((i) => new Relay(() => daemons[i]?.port));
  for (const [i, relay] of relays.entries()) {
    const advertise = await relay.listen();
    cleanups.push(() => relay.close());
    const daemon = await startDaemon({
      port: 0,
      advertise,
      dbPath: join(dir, `chain-${i}.db`),
      ...daemonRegistry(network, generateKeyPair()),
      // Short epochs put both daemons on a roster soon; a deep finality lets the partition heal by reorganization.
      params: { blockIntervalMs: 150, maxSharesPerBlock: 16, epochSlots: 4, finalityDepth: 100 },
      syncIntervalMs: 150,
      verifyThreads: 1,
      metrics: metrics[i]!,
    });
    daemons.push(daemon);
    cleanups.push(() => daemon.close());
  }
  const [a, b] = daemons as [DaemonHandle, DaemonHandle];
  const clients = daemons.map((d) => new DaemonClient(`127.0.0.1:${d.port}`));
  cleanups.push(() => clients.forEach((c) => c.close()));
  const client = generateKeyPair();
  const accepted: string[] = [];
  const submit = async (to: number, session: TestSession, count: number) => {
    const verdicts = await clients[to]!.submitShares(
      [
        signBatch(
          node,
          Array.from({ length: count }, () => session.share(node, 1)),
        ),
      ],
      [session.receipt],
    );
    assert.ok(
      verdicts.every((v) => v.accepted),
      verdicts.find((v) => !v.accepted)?.message,
    );
    accepted.push(...verdicts.map((v) => hex(v.shareHash)));
  };

  const together = new TestSession(client, 'together', [node, node]);
  await submit(0, together, 10);
  const joined = await waitFor('both daemons on one chain holding the first shares', () => {
    const h = Math.min(a.chain.head().height, b.chain.head().height);
    return h > 2 && a.chain.store.pendingCount() === 0 && hashAt(a, h) === hashAt(b, h) && h;
  });
  assert.ok(joined > 2);

  for (const relay of relays) relay.cut();
  const cutAt = Math.max(a.chain.head().height, b.chain.head().height);
  await submit(0, new TestSession(client, 'apart-a', [node, node]), 20);
  await submit(1, new TestSession(client, 'apart-b', [node, node]), 20);
  await waitFor(
    'each daemon to build its own fork',
    () => a.chain.head().height >= cutAt + 4 && b.chain.head().height >= cutAt + 4,
    20_000,
  );
  const forkHeight = cutAt + 3;
  assert.notEqual(hashAt(a, forkHeight), hashAt(b, forkHeight), 'cut off, the daemons build different blocks');
  assert.equal(hashAt(a, joined), hashAt(b, joined), 'the chain before the cut is shared');

  for (const relay of relays) relay.heal();
  // Converged: the same block at a height both reached, with every accepted share below it.
  const height = await waitFor(
    'one chain again, with every accepted share in it',
    () => {
      const h = Math.min(a.chain.head().height, b.chain.head().height);
      return (
        h > forkHeight + 2 &&
        hashAt(a, h) === hashAt(b, h) &&
        daemons.every((d) => shareCounts(d, h).size === accepted.length) &&
        h
      );
    },
    30_000,
  );
  for (let h = 1; h <= height; h++) assert.equal(hashAt(a, h), hashAt(b, h), `the same block at height ${h}`);
  for (const daemon of daemons) {
    const counts = shareCounts(daemon, height);
    for (const h of accepted) assert.equal(counts.get(h), 1, `share ${h} exactly once on ${daemon.endpoint}`);
  }
  // Each daemon produced blocks and took the other's in; the shares each accepted add up to all of them.
  const samples = await Promise.all(metrics.map((m) => m.render()));
  const value = (text: string, name: string) =>
    Number(new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
  for (const text of samples) {
    assert.ok(value(text, 'tessera_daemon_blocks_produced_total') > 0);
    assert.ok(value(text, 'tessera_daemon_blocks_received_total{result="accepted"}') > 0);
  }
  assert.equal(
    samples.reduce((sum, text) => sum + value(text, 'tessera_daemon_shares_total{result="accepted"}'), 0),
    accepted.length,
  );
});
