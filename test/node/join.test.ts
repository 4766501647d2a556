// Six operators join with one command each (`tessera node --registry … --model …` and memory for one
// shard, real processes): the registry assigns shards so every one is covered, each node downloads
// only its own shard and the tokenizer, the golden stories260K text comes through a gateway, and a node killed with -9 and
// started again keeps its files (nothing fetched again) and its shard. And a download resumes from a
// partial file, and a wrong file is deleted and fetched again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeNewKeyFile } from '../../src/crypto/keys.ts';
import { startGateway } from '../../src/gateway/gateway.ts';
import { fetchModelFile } from '../../src/node/shard-fetch.ts';
import { localGreedy } from '../support/local-reference.ts';
import { oneShardMemoryMb, startModelRegistry } from '../support/model-registry.ts';
import { runTessera } from '../support/tessera-cli.ts';
import { joinArgs, spawnNodeProcess, type NodeEvent, type NodeProcess } from '../support/node-process.ts';
import { processScratch } from '../support/process-scratch.ts';

const { scratch, children, cleanups } = processScratch('join');

type Event = NodeEvent;

const spawnNode = (args: readonly string[], env: NodeJS.ProcessEnv = process.env) =>
  spawnNodeProcess(args, children, env);

/** The first event matching `match` from any of `nodes`, waited for on their output (bounded). */
function waitForLine(
  nodes: readonly NodeProcess[],
  match: (event: Event) => boolean,
  timeoutMs: number,
): Promise<{ node: NodeProcess; event: Event }> {
  return Promise.any(
    nodes.map((node) => node.waitFor(match, timeoutMs, 'a matching event').then((event) => ({ node, event }))),
  );
}

const eventOf = (events: readonly Event[], name: string): Event =>
  events.find((e) => e.event === name) ?? assert.fail(`no ${name} event in ${JSON.stringify(events)}`);

test('six nodes joining with --registry and --model alone cover every shard, fetch only their own and serve the golden text', async () => {
  const { registry, client, manifest, modelId, shardsDir } = await startModelRegistry(scratch, {
    name: 'join',
    shards: 3,
    cleanups,
  });
  const tokenizerBytes = statSync(join(shardsDir, manifest.tokenizerFile)).size;

  // Memory for one shard: each node is given one, as an operator with a small machine would be.
  const argsOf = (i: number, withDataDir = true) => [
    ...joinArgs(
      registry.endpoint,
      modelId,
      join(scratch, `node${i}.key`),
      withDataDir ? join(scratch, `data${i}`) : undefined,
    ),
    ...['--memory-mb', oneShardMemoryMb(manifest)],
  ];
  for (let i = 0; i < 6; i++) writeNewKeyFile(join(scratch, `node${i}.key`));
  // The last node keeps its files where an operator's would be without --data-dir: the user's cache.
  const cacheHome = join(scratch, 'cache-home');
  const nodes = Array.from({ length: 6 }, (_, i) =>
    i === 5 ? spawnNode(argsOf(i, false), { ...process.env, XDG_CACHE_HOME: cacheHome }) : spawnNode(argsOf(i)),
  );
  const started = await Promise.all(nodes.map((n) => n.started));

  const served = started.map((events) => Number(eventOf(events, 'node_started').shard));
  assert.deepEqual(
    [0, 1, 2].map((s) => served.filter((x) => x === s).length),
    [2, 2, 2],
    `six nodes over three shards spread two a shard: ${served.join(',')}`,
  );
  for (const [i, events] of started.entries()) {
    const shard = manifest.shards[served[i]!]!;
    // Exactly its own shard and the tokenizer came over the network, no other shard's byte.
    assert.equal(eventOf(events, 'shard_files_ready').fetchedBytes, shard.bytes + tokenizerBytes, `node ${i}`);
    const dir = i === 5 ? join(cacheHome, 'tessera', modelId) : join(scratch, `data${i}`, 'models', modelId);
    for (const other of manifest.shards)
      assert.equal(existsSync(join(dir, other.file)), other.index === shard.index, `node ${i} holds ${other.file}`);
    assert.equal(
      eventOf(events, 'shard_assignment').shardRole,
      shard.embedding ? 'driver' : shard.head ? 'validator' : 'worker',
    );
  }
  const listed = (await client.discover(modelId)).nodes;
  assert.deepEqual([...new Set(listed.map((n) => n.shardIndex))].sort(), [0, 1, 2]);
  assert.ok(listed.every((n) => n.shardEnd === n.shardIndex + 1));
  assert.equal(listed.length, 6);

  const gateway = await startGateway({ registries: [registry.endpoint], port: 0, cacheDir: join(scratch, 'gateway') });
  cleanups.push(() => gateway.close());
  const golden = await localGreedy('Once upon a time', 24);
  const complete = async () => {
    const response = await fetch(`${gateway.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: modelId, prompt: 'Once upon a time', max_tokens: 24, temperature: 0 }),
    });
    assert.equal(response.status, 200, await response.clone().text());
    return ((await response.json()) as { choices: { text: string }[] }).choices[0]!.text;
  };
  assert.equal(await complete(), golden.text);

  // A node joining a network that serves its shard already fetches it from a node serving it.
  writeNewKeyFile(join(scratch, 'node6.key'));
  const late = spawnNode(argsOf(6));
  const lateEvents = await late.started;
  const lateShard = manifest.shards[Number(eventOf(lateEvents, 'node_started').shard)]!;
  const fetchedFrom = lateEvents.filter((e) => e.event === 'shard_file_fetched').map((e) => [e.file, e.source]);
  const servingIt = listed.filter((n) => n.shardIndex === lateShard.index).map((n) => n.endpoint);
  assert.equal(fetchedFrom.length, 2, JSON.stringify(lateEvents));
  for (const [file, source] of fetchedFrom) assert.ok(servingIt.includes(source as string), `${file} from ${source}`);
  assert.equal(eventOf(lateEvents, 'shard_files_ready').fetchedBytes, lateShard.bytes + tokenizerBytes);

  // kill -9 a node; started again with the same key and data dir, it keeps its shard and fetches nothing.
  const victim = 1;
  nodes[victim]!.child.kill('SIGKILL');
  await nodes[victim]!.exited;
  const again = spawnNode(argsOf(victim));
  const events = await again.started;
  assert.equal(Number(eventOf(events, 'node_started').shard), served[victim]);
  assert.equal(eventOf(events, 'shard_files_ready').fetchedBytes, 0);
  assert.deepEqual(eventOf(events, 'shard_assignment').held, [served[victim]]);
  const relisted = (await client.discover(modelId)).nodes;
  assert.deepEqual([...new Set(relisted.map((n) => n.shardIndex))].sort(), [0, 1, 2]);
  assert.equal(relisted.length, 7);
  assert.equal(
    relisted.find((n) => n.shardIndex === served[victim] && n.endpoint === eventOf(events, 'node_started').endpoint)
      ?.shardIndex,
    served[victim],
  );
  assert.equal(await complete(), golden.text);
});

test('a partial file is resumed from its length; a wrong partial or complete file is deleted and fetched again', async () => {
  const { registry, manifest, shardsDir } = await startModelRegistry(scratch, { name: 'resume', shards: 3, cleanups });
  const entry = manifest.shards[1]!;
  const original = readFileSync(join(shardsDir, entry.file));
  const want = { modelId: manifest.modelId, file: entry.file, bytes: entry.bytes, sha256: entry.sha256 };
  const events: string[] = [];
  const fetchInto = (dir: string) =>
    fetchModelFile(want, { sources: [registry.endpoint], dir, log: (event) => events.push(event) });
  const half = Math.floor(entry.bytes / 2);

  const resumed = join(scratch, 'resume-good');
  mkdirSync(resumed);
  writeFileSync(join(resumed, `${entry.file}.part`), original.subarray(0, half));
  const good = await fetchInto(resumed);
  assert.deepEqual(
    { fetchedBytes: good.fetchedBytes, resumedFrom: good.resumedFrom },
    { fetchedBytes: entry.bytes - half, resumedFrom: half },
  );
  assert.deepEqual(readFileSync(good.path), original);
  assert.equal(existsSync(`${good.path}.part`), false);
  // held complete: nothing comes over the network
  assert.equal((await fetchInto(resumed)).fetchedBytes, 0);

  // A partial file of wrong bytes: the rest is fetched, the whole fails its hash, it is fetched again from the start.
  const badPartial = join(scratch, 'resume-bad');
  mkdirSync(badPartial);
  writeFileSync(join(badPartial, `${entry.file}.part`), Buffer.alloc(half, 0x55));
  events.length = 0;
  const refetched = await fetchInto(badPartial);
  assert.equal(refetched.fetchedBytes, entry.bytes - half + entry.bytes);
  assert.deepEqual(readFileSync(refetched.path), original);
  assert.ok(events.includes('shard_file_rejected'), events.join(','));

  // A complete file of the right size and the wrong bytes: deleted, said, fetched whole.
  const badWhole = join(scratch, 'resume-bad-whole');
  mkdirSync(badWhole);
  writeFileSync(join(badWhole, entry.file), Buffer.alloc(entry.bytes, 0x55));
  events.length = 0;
  const replaced = await fetchInto(badWhole);
  assert.equal(replaced.fetchedBytes, entry.bytes);
  assert.deepEqual(readFileSync(replaced.path), original);
  assert.deepEqual(events, ['shard_file_mismatch', 'shard_file_fetched']);
});

test('rebalancing: when a shard loses its only node, one node of a doubly served shard moves there, fetching it first', async () => {
  // Short heartbeats, so that the killed node's registration lapses within the test.
  const { registry, client, manifest, modelId } = await startModelRegistry(scratch, {
    name: 'churn',
    shards: 2,
    quickEviction: true,
    cleanups,
  });
  const start = (i: number) => {
    writeNewKeyFile(join(scratch, `churn${i}.key`));
    return spawnNode([
      ...joinArgs(registry.endpoint, modelId, join(scratch, `churn${i}.key`), join(scratch, `churn-data${i}`)),
      ...['--rebalance-interval', '1', '--memory-mb', oneShardMemoryMb(manifest)],
    ]);
  };
  // One at a time, so that which node serves what is known: 0, 1, then 0 again.
  const nodes: NodeProcess[] = [];
  for (let i = 0; i < 3; i++) {
    const node = start(i);
    await node.started;
    nodes.push(node);
  }
  const shardOf = (i: number) => Number(eventOf(nodes[i]!.events, 'node_started').shard);
  assert.deepEqual([0, 1, 2].map(shardOf), [0, 1, 0]);

  nodes[1]!.child.kill('SIGKILL');
  await nodes[1]!.exited;
  const mover = await waitForLine([nodes[0]!, nodes[2]!], (event) => event.event === 'shard_moved', 60_000);
  assert.deepEqual([mover.event.from, mover.event.to], [0, 1]);
  const moverIndex = mover.node === nodes[0] ? 0 : 2;
  const stayer = nodes[moverIndex === 0 ? 2 : 0]!;
  // The mover fetched shard 1 before it stopped serving shard 0, and keeps only shard 1's file.
  const order = mover.node.events.map((e) => e.event);
  assert.ok(
    order.indexOf('shard_file_fetched', order.indexOf('shard_moving')) <
      order.indexOf('node_stopped', order.indexOf('shard_moving')),
    order.join(','),
  );
  const dir = join(scratch, `churn-data${moverIndex}`, 'models', modelId);
  assert.equal(existsSync(join(dir, manifest.shards[0]!.file)), false);
  assert.equal(existsSync(join(dir, manifest.shards[1]!.file)), true);
  assert.equal(
    stayer.events.some((e) => e.event === 'shard_moving'),
    false,
    'only one node moved',
  );
  const listed = (await client.discover(modelId)).nodes;
  assert.deepEqual(listed.map((n) => n.shardIndex).sort(), [0, 1]);

  const gateway = await startGateway({
    registries: [registry.endpoint],
    port: 0,
    cacheDir: join(scratch, 'churn-gateway'),
  });
  cleanups.push(() => gateway.close());
  const response = await fetch(`${gateway.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: modelId, prompt: 'Once upon a time', max_tokens: 24, temperature: 0 }),
  });
  assert.equal(response.status, 200);
  assert.equal(
    ((await response.json()) as { choices: { text: string }[] }).choices[0]!.text,
    (await localGreedy('Once upon a time', 24)).text,
  );

  // What the mover says of itself follows the move: its /metrics (the same endpoint it started
  // with) and `tessera status` show shard 1, and the generation it just ran through shard 1 counts.
  const moved = manifest.shards[1]!;
  const scraped = await (await fetch(String(eventOf(mover.node.events, 'metrics_listening').url))).text();
  const shardSeries = scraped.split('\n').filter((line) => line.startsWith('tessera_node_shard{'));
  assert.deepEqual(shardSeries, [
    `tessera_node_shard{model="${modelId}",shard="1",layers="${moved.layerStart}-${moved.layerEnd - 1}",role="validator"} 1`,
  ]);
  const tokens = /^tessera_node_tokens_processed_total (\d+)$/m.exec(scraped);
  assert.ok(tokens !== null && Number(tokens[1]) > 0, `tokens run through shard 1 counted:\n${scraped}`);
  const moverId = String(eventOf(mover.node.events, 'node_started').nodeId);
  const status = await runTessera(['status', '--json', '--registry', registry.endpoint]);
  assert.equal(status.code, 0, status.stderr);
  const coverage = (
    JSON.parse(status.stdout) as { models: { shardsCoverage: { shardIndex: number; nodes: { nodeId: string }[] }[] }[] }
  ).models[0]!.shardsCoverage;
  assert.deepEqual(
    coverage.filter((s) => s.nodes.some((n) => n.nodeId === moverId)).map((s) => s.shardIndex),
    [1],
    status.stdout,
  );
});
