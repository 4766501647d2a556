// Spans (issue 12's last gap): stories260K cut one shard a layer (`tessera shard … --shards <layers>`),
// and operators joining with `tessera node --registry … --model …` and memory for about half the
// model (real processes). The registry hands each the longest run of shards its memory fits, placed
// so that every shard is covered; each node fetches exactly its span's files and the tokenizer; and
// a client's route over their spans gives the golden stories260K text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '../../src/client/client.ts';
import { sha256File } from '../../src/crypto/hash.ts';
import { writeNewKeyFile } from '../../src/crypto/keys.ts';
import { spanBytes, spanContains, spanEntries, spanOfShard, type ShardSpan } from '../../src/model/shards/span.ts';
import { localGreedy } from '../support/local-reference.ts';
import { memoryMbFor, startModelRegistry } from '../support/model-registry.ts';
import { joinArgs, spawnNodeProcess, type NodeEvent } from '../support/node-process.ts';
import { processScratch } from '../support/process-scratch.ts';

const MiB = 2 ** 20;
const { scratch, children, cleanups } = processScratch('span-join');
const eventOf = (events: readonly NodeEvent[], name: string): NodeEvent =>
  events.find((e) => e.event === name) ?? assert.fail(`no ${name} event in ${JSON.stringify(events)}`);

test('nodes with memory for half of a one-shard-a-layer cut take spans that cover every shard, fetch only their own files, and a client gets the golden text', async () => {
  const { registry, client, manifest, modelId, shardsDir } = await startModelRegistry(scratch, {
    name: 'spans',
    shards: 'per-layer',
    cleanups,
  });
  const shards = manifest.shards.length;
  assert.equal(shards, manifest.config.layers);
  assert.ok(manifest.shards.every((s) => s.layerEnd - s.layerStart === 1));
  const whole = spanBytes(manifest, { start: 0, end: shards });
  const tokenizerBytes = statSync(join(shardsDir, manifest.tokenizerFile)).size;
  // --cache-mb 16 (joinArgs) and room for half the model's weights beside it.
  const memoryMb = memoryMbFor(Math.round(whole / 2));

  const started: NodeEvent[][] = [];
  for (let i = 0; i < 3; i++) {
    writeNewKeyFile(join(scratch, `node${i}.key`));
    const node = spawnNodeProcess(
      [
        ...joinArgs(registry.endpoint, modelId, join(scratch, `node${i}.key`), join(scratch, `data${i}`)),
        ...['--memory-mb', memoryMb],
      ],
      children,
    );
    // One after the other: each is placed beside the spans of those before it.
    started.push(await node.started);
  }

  const spans = started.map((events): ShardSpan => {
    const assigned = eventOf(events, 'shard_assignment');
    return { start: Number(assigned.shard), end: Number(assigned.shardEnd) };
  });
  // The first shard holds the embedding and the last the head, so the longest run that fits half the
  // model is the middle one; the next nodes take the runs that cover the ends.
  assert.deepEqual(spans, [
    { start: 1, end: 4 },
    { start: 0, end: 2 },
    { start: 3, end: 5 },
  ]);
  for (let shard = 0; shard < shards; shard++)
    assert.ok(
      spans.some((s) => spanContains(s, spanOfShard(shard))),
      `shard ${shard} covered: ${JSON.stringify(spans)}`,
    );
  for (const [i, span] of spans.entries()) {
    const bytes = spanBytes(manifest, span);
    assert.ok(bytes + 16 * MiB <= Number(memoryMb) * MiB, `node ${i}'s span fits its memory`);
    assert.ok(bytes <= whole / 2, `node ${i} holds ${bytes} of ${whole} bytes: about half at most`);
    // Exactly its span's files and the tokenizer came over the network, no other shard's byte.
    assert.equal(eventOf(started[i]!, 'shard_files_ready').fetchedBytes, bytes + tokenizerBytes, `node ${i}`);
    const dir = join(scratch, `data${i}`, 'models', modelId);
    const files = spanEntries(manifest, span).map((e) => e.file);
    assert.deepEqual(readdirSync(dir).sort(), [...files, 'manifest.json', manifest.tokenizerFile].sort(), `node ${i}`);
    for (const entry of spanEntries(manifest, span))
      assert.equal(sha256File(join(dir, entry.file)), entry.sha256, `node ${i}: ${entry.file}`);
    // It serves the span it was given, and says so.
    const serving = eventOf(started[i]!, 'node_started');
    assert.deepEqual([serving.shard, serving.shardEnd], [span.start, span.end], `node ${i}`);
  }
  const listed = (await client.discover(modelId)).nodes;
  assert.deepEqual(
    listed.map((n) => ({ start: n.shardIndex, end: n.shardEnd })).sort((a, b) => a.start - b.start),
    [...spans].sort((a, b) => a.start - b.start),
  );

  const sdk = await connect({ registries: [registry.endpoint], cacheDir: join(scratch, 'client') });
  cleanups.push(() => sdk.close());
  const golden = await localGreedy('Once upon a time', 24);
  const { summary } = await sdk
    .generate({ model: modelId, prompt: 'Once upon a time', maxTokens: 24, temperature: 0 })
    .collect();
  assert.equal(summary.text, golden.text);
  // The route runs every shard once, in order, over the nodes' spans.
  const hops = summary.route.map((h) => ({ start: h.shardIndex, end: h.shardEnd }));
  assert.equal(hops[0]!.start, 0);
  assert.equal(hops.at(-1)!.end, shards);
  for (let i = 1; i < hops.length; i++) assert.equal(hops[i]!.start, hops[i - 1]!.end, JSON.stringify(hops));
});
