// Spans at the registry: AssignShard hands a joining node a span sized to its memory, and a node
// registered with shards [a, b) counts at every shard of them, in the registry's
// tessera_registry_live_nodes gauge and in what `tessera status` prints (each node with its span); a
// shard no span reaches is named uncovered.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { connect } from '../../src/client/client.ts';
import { formatStatus } from '../../src/cli/commands/status-action.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { Metrics } from '../../src/metrics/metrics.ts';
import { assignShard } from '../../src/node/shard-fetch-join.ts';
import { startRegistry } from '../../src/registry/registry.ts';
import { RegistryClient } from '../../src/registry/registry-client.ts';
import { nodeBody, removeDir, tempDir, testClusterConfig, writeShardsDir } from '../support/registry-fixtures.ts';

const dir = tempDir('coverage');
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  removeDir(dir);
});

test('live nodes count at every shard of their spans, in the figures and in tessera status; a shard no span reaches is uncovered', async () => {
  writeShardsDir(join(dir, 'tiny'), 'tiny', 4);
  const metrics = new Metrics();
  const registry = await startRegistry({
    port: 0,
    dbPath: join(dir, 'registry.db'),
    clusterConfig: testClusterConfig(dir),
    metrics,
  });
  cleanups.push(() => registry.close());
  const client = new RegistryClient(registry.endpoint);
  cleanups.push(() => client.close());
  const [a, b] = [generateKeyPair(), generateKeyPair()];
  await client.register(a, nodeBody(a, { shardIndex: 0, shardEnd: 3, endpoint: '127.0.0.1:50100' }));
  await client.register(b, nodeBody(b, { shardIndex: 1, shardEnd: 2, endpoint: '127.0.0.1:50101' }));

  const scraped = await metrics.render();
  const live = [...scraped.matchAll(/^tessera_registry_live_nodes\{model="tiny",shard="(\d)"\} (\d+)$/gm)].map((m) => [
    Number(m[1]),
    Number(m[2]),
  ]);
  assert.deepEqual(
    live,
    [
      [0, 1],
      [1, 2],
      [2, 1],
      [3, 0],
    ],
    scraped,
  );

  const sdk = await connect({ registries: [registry.endpoint], cacheDir: join(dir, 'client') });
  cleanups.push(() => sdk.close());
  const text = formatStatus(await sdk.status());
  assert.deepEqual(text.match(/^ {2}shard \d .*$/gm), [
    '  shard 0  layers 0-1  1 node',
    '  shard 1  layers 2-3  2 nodes',
    '  shard 2  layers 4-5  1 node',
    '  shard 3  layers 6-7  NO NODE',
  ]);
  // Each node is shown with the span it holds, at each shard of it.
  assert.equal(text.match(new RegExp(`^ {4}${a.address} .* holds shards 0–2$`, 'gm'))?.length, 3, text);
  assert.equal(text.match(new RegExp(`^ {4}${b.address} .* holds shard 1$`, 'gm'))?.length, 1, text);
  assert.match(text, /coverage: INCOMPLETE, no node for shard 3$/m);
});

test('AssignShard answers a span sized to the memory: its shards, layers, embedding and head, and the role they make', async () => {
  const spansDir = join(dir, 'assign');
  const { manifest } = writeShardsDir(join(spansDir, 'tiny'), 'tiny', 4);
  const registry = await startRegistry({
    port: 0,
    dbPath: join(spansDir, 'registry.db'),
    clusterConfig: testClusterConfig(spansDir),
  });
  cleanups.push(() => registry.close());
  const largest = Math.max(...manifest.shards.map((e) => e.bytes));
  const ask = (key = generateKeyPair(), shards = 2, extra: { held?: number[]; serving?: number } = {}) =>
    assignShard(registry.endpoint, key, {
      modelId: 'tiny',
      freeBytes: (1 << 20) + shards * largest,
      kvBudgetBytes: 1 << 20,
      tier: 'T3',
      held: extra.held ?? [],
      ...(extra.serving === undefined ? {} : { serving: extra.serving }),
    });
  const fields = (r: Awaited<ReturnType<typeof ask>>) => [
    r.shardIndex,
    r.shardEnd,
    r.layerStart,
    r.layerEnd,
    r.embedding,
    r.head,
    r.role,
  ];
  // Room for two of four shards (two layers each): the first two, then the last two.
  const first = generateKeyPair();
  assert.deepEqual(fields(await ask(first)), [0, 2, 0, 4, true, false, 'driver']);
  assert.deepEqual(fields(await ask()), [2, 4, 4, 8, false, true, 'validator']);
  // Room for the whole model: all of it, embedding and head, and it drives.
  assert.deepEqual(fields(await ask(generateKeyPair(), 9)), [0, 4, 0, 8, true, true, 'driver']);
  // Registered on shards 0–1 and asking whether to move (it names where its span starts): it stays,
  // since its leaving would uncover them, and is told the span it registered.
  const client = new RegistryClient(registry.endpoint);
  cleanups.push(() => client.close());
  await client.register(first, nodeBody(first, { shardIndex: 0, shardEnd: 2 }));
  const stay = await ask(first, 2, { held: [0, 1], serving: 0 });
  assert.deepEqual([stay.shardIndex, stay.shardEnd, Number(stay.heldUntilMs)], [0, 2, 0]);
});
