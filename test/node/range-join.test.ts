// Operators join with the model's own GGUF URL (`tessera node --registry … --model … --model-url`,
// real processes, a real HTTP server with byte ranges): each node fetches only its shard's tensors,
// as many bytes as the manifest says they take, assembles the shard file `tessera shard` cut, and the
// golden stories260K text comes through a gateway. A fetch that stopped half-way resumes without
// asking again for the tensors it holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TesseraError } from '../../src/core/errors.ts';
import { sha256File } from '../../src/crypto/hash.ts';
import { writeNewKeyFile } from '../../src/crypto/keys.ts';
import { startGateway } from '../../src/gateway/gateway.ts';
import { shardTensors } from '../../src/model/shards/assemble.ts';
import { shardModel } from '../../src/model/shards/shard.ts';
import { fetchShardByRanges } from '../../src/node/range-fetch-shard.ts';
import { localGreedy } from '../support/local-reference.ts';
import { testModel } from '../support/models.ts';
import { oneShardMemoryMb, startModelRegistry } from '../support/model-registry.ts';
import { startRangeFileServer } from '../support/range-file-server.ts';
import { closedPort, runTessera } from '../support/tessera-cli.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { parseManifest } from '../../src/model/manifest.ts';
import { joinNetwork } from '../../src/node/shard-fetch-join.ts';
import { joinArgs, spawnNodeProcess, type NodeEvent } from '../support/node-process.ts';
import { processScratch } from '../support/process-scratch.ts';

const STORIES = testModel('stories260K.gguf');
const { scratch, children, cleanups } = processScratch('range-join');
type Event = NodeEvent;

/** A `tessera node` process: its events up to node_started, or its output if it exits first. */
const spawnNode = (args: readonly string[]): Promise<Event[]> => spawnNodeProcess(args, children).started;

const eventOf = (events: readonly Event[], name: string): Event =>
  events.find((e) => e.event === name) ?? assert.fail(`no ${name} event in ${JSON.stringify(events)}`);

test('two nodes joining with --model-url fetch only their tensors and the header by range, assemble the cut files and serve the golden text', async () => {
  const { registry, manifest, shardsDir } = await startModelRegistry(scratch, { name: 'range', shards: 2, cleanups });
  const origin = await startRangeFileServer(STORIES, 'stories260K.gguf');
  cleanups.push(() => origin.close());

  const nodeArgs = (i: number) => {
    writeNewKeyFile(join(scratch, `node${i}.key`));
    return [
      ...joinArgs(registry.endpoint, manifest.modelId, join(scratch, `node${i}.key`), join(scratch, `data${i}`)),
      ...['--model-url', origin.url, '--memory-mb', oneShardMemoryMb(manifest)],
    ];
  };
  // One after the other, so that the registry sends the second to the shard nobody serves yet.
  const started: Event[][] = [];
  for (let i = 0; i < 2; i++) started.push(await spawnNode(nodeArgs(i)));

  let served = 0;
  for (const [i, events] of started.entries()) {
    const entry = manifest.shards[Number(eventOf(events, 'node_started').shard)]!;
    const assembled = eventOf(events, 'shard_file_assembled');
    // Exactly its own tensors came from the origin (stories260K's are adjacent: no padding read).
    const tensorBytes = shardTensors(manifest, entry).reduce((sum, t) => sum + t.bytes, 0);
    assert.equal(assembled.fetchedBytes, tensorBytes, `node ${i}`);
    assert.ok(
      tensorBytes < manifest.source.bytes * 0.8,
      `node ${i} fetched ${tensorBytes} of ${manifest.source.bytes}`,
    );
    served += Number(assembled.fetchedBytes);
    // The tokenizer file too: written from the origin's header, the bytes before the first tensor.
    const tokenizer = eventOf(events, 'tokenizer_file_assembled');
    assert.equal(tokenizer.fetchedBytes, Math.min(...manifest.tensors!.map((t) => t.offset)), `node ${i}`);
    served += Number(tokenizer.fetchedBytes);
    // Several tensors per request, not one request per tensor.
    assert.ok(
      Number(assembled.requests) < shardTensors(manifest, entry).length,
      `node ${i}: ${assembled.requests} requests`,
    );
    // Nothing came from the registry but the manifest, and the files are the ones tessera shard cut.
    assert.deepEqual(
      events.filter((e) => e.event === 'shard_file_fetched'),
      [],
    );
    const dir = join(scratch, `data${i}`, 'models', manifest.modelId);
    assert.equal(sha256File(join(dir, entry.file)), sha256File(join(shardsDir, entry.file)));
    assert.equal(sha256File(join(dir, manifest.tokenizerFile)), manifest.tokenizerSha256);
    assert.deepEqual(readdirSync(dir).sort(), [entry.file, 'manifest.json', manifest.tokenizerFile].sort());
  }
  assert.deepEqual(started.map((events) => Number(eventOf(events, 'node_started').shard)).sort(), [0, 1]);
  assert.equal(origin.servedBytes(), served, 'the origin sent what the nodes counted, nothing more');
  assert.ok(
    origin.ranges.every((range) => /^bytes=\d+-\d+$/.test(range)),
    origin.ranges.join(','),
  );

  const gateway = await startGateway({ registries: [registry.endpoint], port: 0, cacheDir: join(scratch, 'gateway') });
  cleanups.push(() => gateway.close());
  const response = await fetch(`${gateway.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: manifest.modelId, prompt: 'Once upon a time', max_tokens: 24, temperature: 0 }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  const { choices } = (await response.json()) as { choices: { text: string }[] };
  assert.equal(choices[0]!.text, (await localGreedy('Once upon a time', 24)).text);
});

test('a range fetch stopped half-way resumes: checked tensors are not asked for again, a partial one continues from its length', async () => {
  const shardsDir = join(scratch, 'resume-shards');
  const manifest = shardModel(STORIES, 2, shardsDir);
  const entry = manifest.shards[0]!;
  const tensors = shardTensors(manifest, entry);
  const byOffset = [...tensors].sort((a, b) => a.offset - b.offset);
  // The first attempt stops at a tensor far into the shard (its bytes are wrong there): the ones
  // before it are checked and kept.
  const stopAt = byOffset[byOffset.length - 2]!;
  const broken = await startRangeFileServer(STORIES, 'm.gguf', {
    alter: { start: stopAt.offset, end: stopAt.offset + 1 },
  });
  cleanups.push(() => broken.close());
  const dir = join(scratch, 'resume');
  mkdirSync(dir);
  const tokenizerPath = join(shardsDir, manifest.tokenizerFile);
  const options = { manifest, entry, dir, tokenizerPath, log: () => {}, maxRequestBytes: 64 << 10 };
  await assert.rejects(
    fetchShardByRanges({ ...options, url: new URL(broken.url) }),
    (error) => error instanceof TesseraError && error.code === 'SHARD_HASH_MISMATCH',
  );
  const store = join(dir, `${entry.file}.tensors`);
  const kept = readdirSync(store).filter((name) => !name.endsWith('.part'));
  const before = byOffset.slice(0, byOffset.indexOf(stopAt));
  assert.deepEqual(kept.sort(), before.map((t) => t.name).sort());
  assert.equal(existsSync(join(dir, entry.file)), false);
  // As if the process had died inside the last tensor: half of it in its partial file.
  const last = byOffset.at(-1)!;
  const half = Math.floor(last.bytes / 2);
  writeFileSync(join(store, `${last.name}.part`), readFileSync(STORIES).subarray(last.offset, last.offset + half));

  const origin = await startRangeFileServer(STORIES, 'm.gguf');
  cleanups.push(() => origin.close());
  const progress: number[] = [];
  const fetched = await fetchShardByRanges({
    ...options,
    url: new URL(origin.url),
    onProgress: (held) => progress.push(held),
  });
  const heldBefore = before.reduce((sum, t) => sum + t.bytes, 0) + half;
  assert.equal(fetched.resumedFrom, heldBefore);
  assert.equal(fetched.fetchedBytes, stopAt.bytes + last.bytes - half);
  assert.equal(origin.servedBytes(), fetched.fetchedBytes);
  assert.deepEqual(
    origin.ranges.sort(),
    [
      `bytes=${last.offset + half}-${last.offset + last.bytes - 1}`,
      `bytes=${stopAt.offset}-${stopAt.offset + stopAt.bytes - 1}`,
    ].sort(),
  );
  assert.equal(progress[0], heldBefore);
  assert.equal(
    progress.at(-1),
    tensors.reduce((sum, t) => sum + t.bytes, 0),
  );
  assert.equal(sha256File(fetched.path), entry.sha256);
  assert.equal(existsSync(store), false, 'the kept tensors are deleted once the shard file is whole');
  // Held complete: nothing is asked for.
  assert.equal((await fetchShardByRanges({ ...options, url: new URL(origin.url) })).fetchedBytes, 0);
});

test('--model-url refuses http to another host, and goes with --model alone', async () => {
  const insecure = await runTessera([
    'node',
    '--registry',
    '127.0.0.1:1',
    '--model',
    'm',
    '--model-url',
    'http://example.com/m.gguf',
  ]);
  assert.equal(insecure.code, 2, insecure.stderr);
  assert.match(insecure.stderr, /http: is refused except to a loopback host/);
  const preCut = await runTessera([
    'node',
    '--shards-dir',
    scratch,
    '--shard-index',
    '0',
    '--model-url',
    'https://example.com/m.gguf',
  ]);
  assert.equal(preCut.code, 2, preCut.stderr);
  assert.match(preCut.stderr, /goes with --model/);
});

test('tessera shard writes --source-url into the manifest, warns of a private one, and refuses an http one', async () => {
  const out = join(scratch, 'cli-shards');
  const cut = await runTessera([
    'shard',
    STORIES,
    '--shards',
    '2',
    '--out',
    out,
    '--source-url',
    'hf:owner/repo/stories260K.gguf@v1',
  ]);
  assert.equal(cut.code, 0, cut.stderr);
  assert.doesNotMatch(cut.stderr, /warning/);
  const written = parseManifest(readFileSync(join(out, 'manifest.json'), 'utf8'), 'manifest.json');
  assert.equal(written.source.url, 'hf:owner/repo/stories260K.gguf@v1');
  assert.equal(written.tensors?.length, shardModel(STORIES, 2, join(scratch, 'cli-compare')).tensors!.length);
  const http = await runTessera([
    'shard',
    STORIES,
    '--shards',
    '2',
    '--out',
    join(scratch, 'cli-http'),
    '--source-url',
    'http://127.0.0.1/m.gguf',
  ]);
  assert.equal(http.code, 2, http.stderr);
  assert.match(http.stderr, /--source-url: .*http: is refused/);
  assert.equal(existsSync(join(scratch, 'cli-http', 'manifest.json')), false);
  // a private host is written (an operator's own nodes may be given it), with a warning
  const lan = await runTessera([
    'shard',
    STORIES,
    '--shards',
    '2',
    '--out',
    join(scratch, 'cli-lan'),
    '--source-url',
    'https://192.168.1.20/m.gguf',
  ]);
  assert.equal(lan.code, 0, lan.stderr);
  assert.match(
    lan.stderr,
    /warning: --source-url 192\.168\.1\.20 is at 192\.168\.1\.20, a private address: nodes joining through a registry fetch only from public addresses/,
  );
  const lanManifest = readFileSync(join(scratch, 'cli-lan', 'manifest.json'), 'utf8');
  assert.equal(parseManifest(lanManifest, 'manifest.json').source.url, 'https://192.168.1.20/m.gguf');
});

test("a manifest's source.url is fetched from without --model-url; when it may not be (a loopback host), the registry serves the file", async () => {
  const url = `https://127.0.0.1:${await closedPort()}/stories260K.gguf`;
  const { registry, manifest } = await startModelRegistry(scratch, {
    name: 'url',
    shards: 2,
    sourceUrl: url,
    cleanups,
  });
  const seen: { event: string; fields: Record<string, unknown> }[] = [];
  const joined = await joinNetwork({
    registry: registry.endpoint,
    modelId: manifest.modelId,
    key: generateKeyPair(),
    dir: join(scratch, 'url-join'),
    kvBudgetBytes: 16 << 20,
    log: (event, fields = {}) => seen.push({ event, fields }),
  });
  // Room for the whole model (the machine's free memory): every shard of it, each from the registry.
  assert.deepEqual(joined.span, { start: 0, end: manifest.shards.length });
  for (const e of manifest.shards) assert.equal(sha256File(join(joined.shardsDir, e.file)), e.sha256);
  const entry = manifest.shards[0]!;
  const failures = seen.filter((e) => e.event === 'range_fetch_failed');
  // A registry's URL may name public hosts alone: this loopback one is refused before any
  // connection, once, not tried again (test/attacks/join.test.ts has the attack itself).
  assert.deepEqual(
    failures.map((e) => [e.fields.source, e.fields.code]),
    [[url, 'MODEL_URL_PRIVATE']],
  );
  assert.equal(seen.find((e) => e.event === 'shard_range_fetch_abandoned')?.fields.code, 'MODEL_URL_PRIVATE');
  for (const e of manifest.shards)
    assert.equal(
      seen.find((f) => f.event === 'shard_file_fetched' && f.fields.file === e.file)?.fields.source,
      registry.endpoint,
      e.file,
    );
  // Refused at the first file, the URL is not tried for the rest of the span.
  assert.deepEqual(
    seen.filter((e) => e.event === 'shard_range_fetch_abandoned').map((e) => e.fields.file),
    [manifest.tokenizerFile, entry.file],
  );
});
