// Routes over spans, end to end: stories260K cut one shard per layer (`tessera shard --shards 5`),
// three `tessera node` processes holding overlapping runs of layers (A 0–2, B 2–4, C 0–3: none holds
// the whole model, and only B holds layer 4), a registry, and the SDK. Every route must stitch two
// spans, one node running only part of what it holds; the output is the single-process engine's, byte
// for byte, and when the node that takes the prompt is killed with -9 the client moves to the other
// one that holds layer 0, on a route that tiles the model differently, with identical output.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TesseraClient } from '../../src/client/client.ts';
import type { GeneratedToken } from '../../src/client/generation.ts';
import type { RouteHop } from '../../src/client/routing.ts';
import { writeNewKeyFile } from '../../src/crypto/keys.ts';
import type { Manifest } from '../../src/model/manifest.ts';
import { readManifest } from '../../src/model/shards/shard-files.ts';
import { spanContains, type ShardSpan } from '../../src/model/shards/span.ts';
import type { Commitment__Output } from '../../src/proto/tessera/v1/Commitment.ts';
import { parseClusterConfig } from '../../src/registry/cluster-config.ts';
import { startRegistry, type RegistryHandle } from '../../src/registry/registry.ts';
import { localGreedy, type LocalRun } from '../support/local-reference.ts';
import { testModel } from '../support/models.ts';
import { spawnNodeProcess, type NodeProcess } from '../support/node-process.ts';
import { runTessera } from '../support/tessera-cli.ts';

const PROMPT = 'Once upon a time';
const TOKENS = 24;
const KILL_AFTER = 8;
/** What each node holds, as `--shard` takes it (both ends included). */
const HELD = { A: '0-2', B: '2-4', C: '0-3' } as const;

interface RunningNode {
  readonly name: keyof typeof HELD;
  readonly nodeId: string;
  readonly held: ShardSpan;
  readonly process: NodeProcess;
}

const scratch = mkdtempSync(join(tmpdir(), 'tessera-spans-'));
const children: ChildProcess[] = [];
let manifest: Manifest;
let registry: RegistryHandle;
let nodes: RunningNode[];
let client: TesseraClient;
let reference: LocalRun;

before(async () => {
  const shardsDir = join(scratch, 'shards');
  const cut = await runTessera(['shard', testModel('stories260K.gguf'), '--shards', '5', '--out', shardsDir]);
  assert.equal(cut.code, 0, cut.stderr);
  manifest = readManifest(shardsDir);
  assert.equal(manifest.shards.length, manifest.config.layers, 'one shard per layer');
  registry = await startRegistry({
    port: 0,
    host: '127.0.0.1',
    dbPath: join(scratch, 'registry.db'),
    clusterConfig: parseClusterConfig(
      { clusterId: 'spans', models: [{ id: manifest.modelId, manifest: 'shards' }], audit: { samplingRate: 0 } },
      scratch,
    ),
  });
  nodes = await Promise.all(
    (Object.keys(HELD) as (keyof typeof HELD)[]).map(async (name): Promise<RunningNode> => {
      const key = join(scratch, `${name}.key`);
      writeNewKeyFile(key);
      const node = spawnNodeProcess(
        [
          ...['--shard', HELD[name], '--shards-dir', shardsDir, '--registry', registry.endpoint],
          ...['--port', '0', '--metrics-port', '0', '--key', key, '--data-dir', join(scratch, name)],
          ...['--threads', '1', '--cache-mb', '16'],
        ],
        children,
      );
      const started = (await node.started).find((e) => e.event === 'node_started')!;
      const held = { start: Number(started.shard), end: Number(started.shardEnd) };
      const [first, last] = HELD[name].split('-').map(Number);
      assert.deepEqual(held, { start: first, end: last! + 1 }, `node ${name} holds what --shard ${HELD[name]} names`);
      return { name, nodeId: String(started.nodeId), held, process: node };
    }),
  );
  client = await connect({ registries: [registry.endpoint], cacheDir: join(scratch, 'client'), log: () => {} });
  reference = await localGreedy(PROMPT, TOKENS);
});

after(async () => {
  client?.close();
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(nodes?.map((n) => n.process.exited) ?? []);
  await registry?.close();
  rmSync(scratch, { recursive: true, force: true });
});

const byId = (nodeId: string): RunningNode =>
  nodes.find((n) => n.nodeId === nodeId) ?? assert.fail(`node ${nodeId} is none of A, B, C`);

/** The route's spans tile shards 0..S, each a span of what its node holds, no node twice. */
function assertTiles(hops: readonly Pick<RouteHop, 'nodeId' | 'shardIndex' | 'shardEnd'>[], what: string): void {
  const spans = hops.map((h) => `${byId(h.nodeId).name}[${h.shardIndex},${h.shardEnd})`).join(' ');
  assert.ok(hops.length > 0, what);
  assert.equal(hops[0]!.shardIndex, 0, `${what} starts at shard 0: ${spans}`);
  assert.equal(hops.at(-1)!.shardEnd, manifest.shards.length, `${what} ends at the last shard: ${spans}`);
  hops.forEach((hop, i) => {
    assert.ok(hop.shardEnd > hop.shardIndex, `${what}: an empty hop: ${spans}`);
    if (i > 0) assert.equal(hop.shardIndex, hops[i - 1]!.shardEnd, `${what} has no gap or overlap: ${spans}`);
    const held = byId(hop.nodeId).held;
    assert.ok(spanContains(held, { start: hop.shardIndex, end: hop.shardEnd }), `${what}: beyond its node: ${spans}`);
  });
  assert.equal(new Set(hops.map((h) => h.nodeId)).size, hops.length, `${what} uses a node twice: ${spans}`);
}

/** A token's commitments: the route's tiling, each naming the span its hop ran, chained, the logits the reference's. */
function assertCommitted(commitments: readonly Commitment__Output[], step: number): void {
  assertTiles(commitments, `the commitments of token ${step}`);
  for (let hop = 1; hop < commitments.length; hop++)
    assert.ok(Buffer.from(commitments[hop]!.inputHash).equals(commitments[hop - 1]!.outputHash));
  assert.equal(
    Buffer.from(commitments.at(-1)!.outputHash).toString('hex'),
    reference.logitsSha256[step]!.toString('hex'),
    `logits of step ${step}`,
  );
}

test('status lists each shard with the nodes whose held span contains it', async () => {
  const status = await client.status();
  const model = status.models.find((m) => m.modelId === manifest.modelId)!;
  assert.deepEqual(
    model.shardsCoverage.map((s) => s.nodes.map((n) => byId(n.nodeId).name).sort()),
    [['A', 'C'], ['A', 'C'], ['A', 'B', 'C'], ['B', 'C'], ['B']],
  );
  assert.deepEqual(model.uncovered, []);
  for (const listed of model.shardsCoverage.flatMap((s) => s.nodes))
    assert.deepEqual({ start: listed.shardIndex, end: listed.shardEnd }, byId(listed.nodeId).held);
});

test('a route stitched from overlapping spans gives the bytes of the engine in one process', async () => {
  const { tokens, summary } = await client
    .generate({ model: manifest.modelId, prompt: PROMPT, maxTokens: TOKENS, temperature: 0 })
    .collect();
  assert.equal(summary.text, reference.text);
  assert.deepEqual(
    tokens.map((t) => t.id),
    reference.tokens.map((t) => t.id),
  );
  assert.equal(summary.failovers, 0);
  assertTiles(summary.route, 'the route');
  // nobody holds the whole model: two hops, and one of them runs only part of what its node holds
  assert.equal(summary.route.length, 2);
  assert.ok(
    summary.route.some((h) => h.shardEnd - h.shardIndex < byId(h.nodeId).held.end - byId(h.nodeId).held.start),
    'a hop runs a sub-span',
  );
  assert.equal(byId(summary.route[1]!.nodeId).name, 'B', 'only B holds layer 4');
  tokens.forEach((token, i) => {
    assert.deepEqual(
      token.commitments.map((c) => [c.nodeId, c.shardIndex, c.shardEnd]),
      summary.route.map((h) => [h.nodeId, h.shardIndex, h.shardEnd]),
      `token ${i} came through the route`,
    );
    assertCommitted(token.commitments, i);
  });
});

test('kill -9 of the node that takes the prompt: the other holder of shard 0 takes over on a new tiling, output identical', async () => {
  const generation = client.generate({ model: manifest.modelId, prompt: PROMPT, maxTokens: TOKENS, temperature: 0 });
  const tokens: GeneratedToken[] = [];
  let killed: RunningNode | undefined;
  for await (const token of generation) {
    tokens.push(token);
    if (tokens.length === KILL_AFTER) {
      killed = byId(token.commitments[0]!.nodeId);
      killed.process.child.kill('SIGKILL');
      // the next step must meet a dead node, not one still dying
      await killed.process.exited;
    }
  }
  const summary = generation.summary!;
  assert.ok(killed, 'a node was killed');
  assert.equal(summary.text, reference.text);
  assert.deepEqual(
    tokens.map((t) => t.id),
    reference.tokens.map((t) => t.id),
  );
  assert.equal(summary.failovers, 1);
  const survivor = killed.name === 'A' ? 'C' : 'A';
  assertTiles(summary.route, 'the route after the failover');
  assert.deepEqual(
    summary.route.map((h) => byId(h.nodeId).name),
    [survivor, 'B'],
  );
  // the step sent ahead when the node was killed may have passed it already: it served that token or none
  tokens.forEach((token, i) => assertCommitted(token.commitments, i));
  assert.ok(
    tokens.slice(KILL_AFTER + 1).every((t) => t.commitments[0]!.nodeId === summary.route[0]!.nodeId),
    'after the failover every token comes through the survivor',
  );
});
