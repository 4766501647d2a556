// A rebalancing move fetches the files of its new span as a joining node does (issue 12): by range
// from the model's URL when the join did, else from a node holding a span that contains each shard,
// the registry last; the files it keeps are not fetched again. Here the
// registry no longer holds the target shard's file at all, so the move can only succeed from the
// peer (whose own log says it served the bytes), or from the model's URL.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { sha256File } from '../../src/crypto/hash.ts';
import { shardTensors } from '../../src/model/shards/assemble.ts';
import { healthy } from '../../src/metrics/metrics-server.ts';
import { serveWithRebalancing, type ServingNode } from '../../src/node/shard-fetch-rebalance.ts';
import { startRegistry } from '../../src/registry/registry.ts';
import { RegistryClient } from '../../src/registry/registry-client.ts';
import { shardFilesHandlers } from '../../src/registry/shard-server.ts';
import { tessera } from '../../src/proto/services.ts';
import type { Manifest } from '../../src/model/manifest.ts';
import type { ShardSpan } from '../../src/model/shards/span.ts';
import type { Logger } from '../../src/core/log.ts';
import { startGrpcServer, type ServiceBinding } from '../../src/rpc/server.ts';
import {
  nodeBody,
  removeDir,
  tempDir,
  testClusterConfig,
  waitFor,
  writeShardsDir,
} from '../support/registry-fixtures.ts';
import { startModelRegistry } from '../support/model-registry.ts';
import { startRangeFileServer } from '../support/range-file-server.ts';
import { testModel } from '../support/models.ts';

const dir = tempDir('rebalance-peers');
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  removeDir(dir);
});

type Logged = { event: string; fields: Record<string, unknown> };

/** A node's own GetShard service: the files it holds, and nothing else. */
const ownFiles = (manifest: Manifest, files: readonly string[], dir: string, log: Logger): ServiceBinding => ({
  name: 'tessera.v1.ShardFiles',
  definition: tessera.v1.ShardFiles.service,
  handlers: shardFilesHandlers({ models: new Map([[manifest.modelId, { manifest, dir, files: [...files] }]]), log }),
});

/** Room for the largest shard beside the 1 MiB KV budget, never for two: a move keeps one shard. */
const oneShard = (manifest: Manifest) => (1 << 20) + Math.max(...manifest.shards.map((e) => e.bytes));
const loggerOf =
  (into: Logged[]) =>
  (event: string, fields: Record<string, unknown> = {}) =>
    void into.push({ event, fields });

/** A registry over `where`, closed after the tests, and a client of it. */
async function registryIn(where: string) {
  const registry = await startRegistry({
    port: 0,
    dbPath: join(where, 'registry.db'),
    clusterConfig: testClusterConfig(where),
  });
  const client = new RegistryClient(registry.endpoint);
  cleanups.push(async () => {
    client.close();
    await registry.close();
  });
  return { registry, client };
}

/** A peer node's GetShard service over its copies, in `peerDir`, of `files` from `modelDir`. */
async function peerWith(manifest: Manifest, modelDir: string, peerDir: string, files: readonly string[]) {
  mkdirSync(peerDir);
  for (const file of files) copyFileSync(join(modelDir, file), join(peerDir, file));
  const log: Logged[] = [];
  const peer = await startGrpcServer({
    role: 'peer',
    port: 0,
    services: [ownFiles(manifest, files, peerDir, loggerOf(log))],
  });
  cleanups.push(() => peer.shutdown());
  return { peer, log };
}

/**
 * A node holding `span` from copies, in `moverDir`, of `files` from `modelDir`, asking every 50 ms
 * whether to move, with `freeBytes` of room and a 1 MiB KV budget: its log and the spans it started.
 */
function startMover(options: {
  registry: string;
  manifest: Manifest;
  modelDir: string;
  moverDir: string;
  files: readonly string[];
  freeBytes: number;
  span: ShardSpan;
  more?: Partial<Parameters<typeof serveWithRebalancing>[0]>;
}): { log: Logged[]; started: ShardSpan[] } {
  const { manifest, modelDir, moverDir } = options;
  mkdirSync(moverDir);
  for (const file of options.files) copyFileSync(join(modelDir, file), join(moverDir, file));
  const log: Logged[] = [];
  const started: ShardSpan[] = [];
  const serving: ServingNode = { health: () => healthy(), close: async () => undefined };
  const mover = serveWithRebalancing({
    registry: options.registry,
    modelId: manifest.modelId,
    key: generateKeyPair(),
    manifest,
    dir: moverDir,
    kvBudgetBytes: 1 << 20,
    freeBytes: options.freeBytes,
    intervalMs: 50,
    log: loggerOf(log),
    span: options.span,
    node: serving,
    start: async (span) => {
      started.push(span);
      return serving;
    },
    tokenizerPath: join(moverDir, manifest.tokenizerFile),
    ...options.more,
  });
  cleanups.push(() => mover.close());
  return { log, started };
}

test('a move fetches the new shard from a node serving it, not only from the registry', async () => {
  const modelDir = join(dir, 'tiny');
  const { manifest } = writeShardsDir(modelDir, 'tiny', 2);
  const target = manifest.shards[1]!;
  const { registry, client } = await registryIn(dir);
  // The peer: a node's own GetShard service over its copy of shard 1.
  const peerDir = join(dir, 'peer');
  const { peer, log: peerLog } = await peerWith(manifest, modelDir, peerDir, [target.file, manifest.tokenizerFile]);
  // The registry keeps no copy of shard 1 any more: a move that asks only the registry fails.
  rmSync(join(modelDir, target.file));

  // Shard 0 has a fast node besides the mover, shard 1 only the slow peer: moving raises the
  // weakest shard far past the hysteresis, and leaves shard 0 covered.
  const fast = generateKeyPair();
  const slow = generateKeyPair();
  const withTier = (tier: string) => ({ ...nodeBody(fast).capabilities, tier });
  await client.register(fast, nodeBody(fast, { shardIndex: 0, endpoint: '127.0.0.1:1', capabilities: withTier('T1') }));
  await client.register(slow, nodeBody(slow, { shardIndex: 1, endpoint: peer.endpoint, capabilities: withTier('T5') }));

  const moverDir = join(dir, 'mover');
  const { log: moverLog, started } = startMover({
    registry: registry.endpoint,
    manifest,
    modelDir,
    moverDir,
    files: [manifest.shards[0]!.file],
    freeBytes: oneShard(manifest),
    span: { start: 0, end: 1 },
  });

  await waitFor('the move to shard 1', () => started.some((s) => s.start === 1), 20_000);
  assert.deepEqual(started, [{ start: 1, end: 2 }]);
  const fetched = moverLog.filter((e) => e.event === 'shard_file_fetched');
  assert.deepEqual(
    fetched.map((e) => [e.fields.file, e.fields.source]),
    [[target.file, peer.endpoint]],
    JSON.stringify(moverLog),
  );
  const served = peerLog.filter((e) => e.event === 'shard_file_served');
  assert.deepEqual(
    served.map((e) => [e.fields.file, e.fields.bytes]),
    [[target.file, target.bytes]],
  );
  assert.deepEqual(readFileSync(join(moverDir, target.file)), readFileSync(join(peerDir, target.file)));
  assert.equal(existsSync(join(moverDir, manifest.shards[0]!.file)), false, 'the old shard is deleted after the move');
  assert.ok(moverLog.some((e) => e.event === 'shard_moved' && e.fields.from === 0 && e.fields.to === 1));
});

test('a move to an overlapping span fetches only the files it lacks, from a peer holding a span that contains them, and deletes only those it leaves', async () => {
  const spansDir = join(dir, 'spans');
  const modelDir = join(spansDir, 'tiny');
  const { manifest } = writeShardsDir(modelDir, 'tiny', 4);
  const { registry, client } = await registryIn(spansDir);
  // The peer holds shards 2–3 (a slow node): it serves both files, and the move needs shard 3's.
  const held = [manifest.shards[2]!.file, manifest.shards[3]!.file, manifest.tokenizerFile];
  const { peer, log: peerLog } = await peerWith(manifest, modelDir, join(spansDir, 'peer'), held);
  // The registry's copy of shard 3 is gone: only the peer has it.
  rmSync(join(modelDir, manifest.shards[3]!.file));
  const fast = generateKeyPair();
  const slow = generateKeyPair();
  const withTier = (tier: string) => ({ ...nodeBody(fast).capabilities, tier });
  await client.register(
    fast,
    nodeBody(fast, { shardIndex: 0, shardEnd: 3, endpoint: '127.0.0.1:1', capabilities: withTier('T1') }),
  );
  await client.register(
    slow,
    nodeBody(slow, { shardIndex: 2, shardEnd: 4, endpoint: peer.endpoint, capabilities: withTier('T5') }),
  );

  // The mover holds shards 1–2, with room for two: shards 2–3 raise the slow shard 3, and the fast
  // node keeps shard 1 covered.
  const moverDir = join(spansDir, 'mover');
  const progress: [string, number, number][] = [];
  const { log: moverLog, started } = startMover({
    registry: registry.endpoint,
    manifest,
    modelDir,
    moverDir,
    files: [manifest.shards[1]!.file, manifest.shards[2]!.file, manifest.tokenizerFile],
    freeBytes: (1 << 20) + 2 * Math.max(...manifest.shards.map((e) => e.bytes)),
    span: { start: 1, end: 3 },
    more: { onProgress: (label, heldBytes, total) => progress.push([label, heldBytes, total]) },
  });

  await waitFor('the move to shards 2–3', () => started.length > 0, 20_000);
  assert.deepEqual(started, [{ start: 2, end: 4 }]);
  const fetched = moverLog.filter((e) => e.event === 'shard_file_fetched');
  assert.deepEqual(
    fetched.map((e) => [e.fields.file, e.fields.source]),
    [[manifest.shards[3]!.file, peer.endpoint]],
    'only the file it lacked, from the peer',
  );
  assert.deepEqual(
    peerLog.filter((e) => e.event === 'shard_file_served').map((e) => e.fields.file),
    [manifest.shards[3]!.file],
  );
  assert.deepEqual(
    manifest.shards.map((e) => existsSync(join(moverDir, e.file))),
    [false, false, true, true],
    'shard 1 deleted, shard 2 kept, shard 3 fetched',
  );
  // One bar over the new span's bytes: the kept file counts as held from the start.
  const total = manifest.shards[2]!.bytes + manifest.shards[3]!.bytes;
  assert.ok(progress.length > 0);
  assert.ok(
    progress.every(([label, , of]) => label === 'shards 2–3 of tiny' && of === total),
    JSON.stringify(progress),
  );
  assert.ok(
    progress.every(([, heldBytes]) => heldBytes >= manifest.shards[2]!.bytes),
    JSON.stringify(progress),
  );
  assert.equal(progress.at(-1)![1], total);
  assert.ok(
    moverLog.some(
      (e) =>
        e.event === 'shard_moved' &&
        e.fields.from === 1 &&
        e.fields.fromEnd === 3 &&
        e.fields.to === 2 &&
        e.fields.toEnd === 4,
    ),
    JSON.stringify(moverLog),
  );
});

test("a node that joined by range moves by range: the new shard's tensors from the model's URL, assembled and checked", async () => {
  const source = testModel('stories260K.gguf');
  const {
    registry,
    client,
    manifest,
    shardsDir: modelDir,
  } = await startModelRegistry(dir, {
    name: 'range-move',
    shards: 2,
    cleanups,
  });
  const target = manifest.shards[1]!;
  const origin = await startRangeFileServer(source, 'stories260K.gguf');
  cleanups.push(() => origin.close());
  const cutSha = target.sha256;
  // Neither the registry nor any node holds shard 1: only the model's URL has its bytes.
  rmSync(join(modelDir, target.file));
  const fast = generateKeyPair();
  const slow = generateKeyPair();
  const body = (key: typeof fast, shardIndex: number, tier: string) =>
    nodeBody(key, {
      modelId: manifest.modelId,
      shardIndex,
      endpoint: '127.0.0.1:1',
      capabilities: { ...nodeBody(key).capabilities, tier },
    });
  await client.register(fast, body(fast, 0, 'T1'));
  await client.register(slow, body(slow, 1, 'T5'));

  const moverDir = join(dir, 'range-mover');
  const { log: moverLog, started } = startMover({
    registry: registry.endpoint,
    manifest,
    modelDir,
    moverDir,
    files: [manifest.shards[0]!.file, manifest.tokenizerFile],
    freeBytes: oneShard(manifest),
    span: { start: 0, end: 1 },
    more: { rangeUrl: new URL(origin.url) },
  });

  await waitFor('the move to shard 1', () => started.some((s) => s.start === 1), 20_000);
  const tensorBytes = shardTensors(manifest, target).reduce((sum, t) => sum + t.bytes, 0);
  assert.ok(
    origin.servedBytes() >= tensorBytes,
    `${origin.servedBytes()} bytes served, the tensors take ${tensorBytes}`,
  );
  // Only the shard's own tensors (and the padding between adjacent ones), never the whole file.
  assert.ok(origin.servedBytes() < manifest.source.bytes, JSON.stringify(moverLog));
  assert.equal(sha256File(join(moverDir, target.file)), cutSha);
  assert.ok(moverLog.some((e) => e.event === 'shard_moved' && e.fields.from === 0 && e.fields.to === 1));
  assert.ok(!moverLog.some((e) => e.event === 'shard_file_fetched'), 'nothing came by GetShard');
});
