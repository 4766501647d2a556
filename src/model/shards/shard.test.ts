import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../engine.ts';
import { exportGgufAsHf } from '../export-hf.ts';
import { openGguf } from '../gguf/reader.ts';
import { GgufValueType } from '../gguf/value.ts';
import { MANIFEST_FILE, parseManifest } from '../manifest.ts';
import { openModel } from '../open-model.ts';
import { topIndices } from '../sampling.ts';
import { createWasmBackend } from '../../tensor/wasm-backend.ts';
import type { Backend } from '../../tensor/backend.ts';
import { testModel } from '../../../test/support/models.ts';
import { syntheticQwen2 } from '../../../test/support/synthetic.ts';
import { sha256File } from '../../crypto/hash.ts';
import { shardModel, splitLayers } from './shard.ts';
import { randomValues } from '../../../test/support/tensor-data.ts';
import { openShard } from './shard-files.ts';
import { openTokenizerFile } from './tokenizer-file.ts';

const STORIES = testModel('stories260K.gguf');
const scratch = mkdtempSync(join(tmpdir(), 'tessera-shard-'));
const backendPromise = createWasmBackend({ threads: 1 });
after(async () => {
  await (await backendPromise).close();
  rmSync(scratch, { recursive: true, force: true });
});

const bytesOf = (values: Float32Array) => Buffer.from(values.buffer, values.byteOffset, values.byteLength);

/** Greedy decoding, returning every step's logits bytes: through one engine or a chain of shard engines. */
function greedyLogits(engines: Engine[], prompt: number[], steps: number): Buffer[] {
  const caches = engines.map((e) => e.createCache(1 << 22));
  const out: Buffer[] = [];
  let input = prompt;
  let position = 0;
  for (let s = 0; s < steps; s++) {
    let x: { tokens: number[] } | { hidden: Float32Array } = { tokens: input };
    let logits: Float32Array | undefined;
    engines.forEach((engine, i) => {
      const result = engine.forward(caches[i]!, x, position);
      if (result.hidden) x = { hidden: result.hidden };
      logits = result.logits;
    });
    out.push(bytesOf(logits!));
    position += input.length;
    input = [topIndices(logits!, 1)[0]!];
  }
  return out;
}

function wholeModelLogits(backend: Backend, path: string, prompt: number[], steps: number): Buffer[] {
  const model = openModel(path);
  try {
    const engine = new Engine(
      model.config,
      { start: 0, end: model.config.layers, embedding: true, head: true },
      backend,
      model.weights,
    );
    return greedyLogits([engine], prompt, steps);
  } finally {
    model.weights.close();
  }
}

function shardChainLogits(backend: Backend, dir: string, shards: number, prompt: number[], steps: number): Buffer[] {
  const opened = Array.from({ length: shards }, (_, i) => openShard(dir, i));
  try {
    const engines = opened.map(
      ({ manifest, entry, weights }) =>
        new Engine(
          manifest.config,
          { start: entry.layerStart, end: entry.layerEnd, embedding: entry.embedding, head: entry.head },
          backend,
          weights,
        ),
    );
    return greedyLogits(engines, prompt, steps);
  } finally {
    for (const shard of opened) shard.weights.close();
  }
}

test('splitLayers: contiguous, as even as possible for equal layers, and refuses more shards than layers', () => {
  const equal = (n: number) => new Array<number>(n).fill(7);
  assert.deepEqual(splitLayers(equal(5), 3), [
    { start: 0, end: 2 },
    { start: 2, end: 4 },
    { start: 4, end: 5 },
  ]);
  assert.deepEqual(
    splitLayers(equal(24), 4).map((r) => r.end - r.start),
    [6, 6, 6, 6],
  );
  assert.deepEqual(
    splitLayers(equal(10), 4).map((r) => r.end - r.start),
    [3, 3, 2, 2],
  );
  assert.deepEqual(splitLayers(equal(5), 1), [{ start: 0, end: 5 }]);
  assert.throws(() => splitLayers(equal(5), 6), /cannot cut 5 layers into 6 shards: choose from 1 to 5/);
  assert.throws(() => splitLayers(equal(5), 0), /cannot cut 5 layers into 0 shards/);
});

test("splitLayers: a large head moves layers off the last shard (Qwen2.5-0.5B's shape: 24 layers, a head of ~9 layers)", () => {
  // the shape's layer and head weights, in elements (q, k, v, o, gate, up, down; vocab × hidden)
  const layer = 896 * 896 * 2 + 896 * 128 * 2 + 896 * 4864 * 3;
  const head = 151936 * 896;
  const sizes = (shards: number) =>
    splitLayers(new Array<number>(24).fill(layer), shards, head).map((r) => r.end - r.start);
  assert.deepEqual(sizes(2), [17, 7]);
  assert.deepEqual(sizes(4), [8, 8, 7, 1]);
  assert.deepEqual(sizes(3), [11, 11, 2]);
});

test('splitLayers: the costliest shard is the least possible, and the shards as even as that allows (brute force over small cases)', () => {
  const draw = randomValues(4000, 11);
  let d = 0;
  const next = (n: number) => Math.floor(((draw[d++ % draw.length]! + 1) / 2) * n);
  for (let c = 0; c < 200; c++) {
    const layers = 1 + next(8);
    const shards = 1 + next(layers);
    const costs = Array.from({ length: layers }, () => 1 + next(20));
    const headCost = next(40);
    const ranges = splitLayers(costs, shards, headCost);
    const costOf = (r: { start: number; end: number }) =>
      costs.slice(r.start, r.end).reduce((a, b) => a + b, 0) + (r.end === layers ? headCost : 0);
    assert.equal(ranges.length, shards);
    assert.equal(ranges[0]!.start, 0);
    assert.equal(ranges.at(-1)!.end, layers);
    ranges.forEach((r, i) => {
      assert.ok(r.end > r.start);
      if (i > 0) assert.equal(r.start, ranges[i - 1]!.end);
    });
    // every cut into `shards` nonempty ranges: choose shards - 1 of the layers - 1 boundaries
    const total = costOf({ start: 0, end: layers });
    const squares = (shardCosts: number[]) => shardCosts.reduce((sum, c) => sum + (c / total) ** 2, 0);
    let bestMax = Infinity;
    let bestSpread = Infinity;
    for (let mask = 0; mask < 1 << (layers - 1); mask++) {
      let bits = 0;
      for (let m = mask; m; m &= m - 1) bits++;
      if (bits !== shards - 1) continue;
      const cut: { start: number; end: number }[] = [];
      let start = 0;
      for (let b = 1; b < layers; b++)
        if (mask & (1 << (b - 1))) {
          cut.push({ start, end: b });
          start = b;
        }
      cut.push({ start, end: layers });
      const most = Math.max(...cut.map(costOf));
      const spread = squares(cut.map(costOf));
      if (most < bestMax || (most === bestMax && spread < bestSpread)) [bestMax, bestSpread] = [most, spread];
    }
    const label = `costs ${costs} head ${headCost} in ${shards}`;
    assert.equal(Math.max(...ranges.map(costOf)), bestMax, label);
    assert.ok(squares(ranges.map(costOf)) <= bestSpread + 1e-12, label);
  }
});

test('stories260K in 3 shards: each file holds only its tensors, the metadata with its types, and the manifest its hash', () => {
  const dir = join(scratch, 'stories-3');
  const manifest = shardModel(STORIES, 3, dir);
  assert.deepEqual(parseManifest(readFileSync(join(dir, MANIFEST_FILE), 'utf8'), 'manifest'), manifest);
  assert.equal(manifest.modelId, 'stories260K');
  assert.deepEqual(manifest.source, {
    file: 'stories260K.gguf',
    bytes: 1185376,
    sha256: '270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d',
  });
  assert.deepEqual(
    manifest.shards.map((s) => [s.layerStart, s.layerEnd, s.embedding, s.head]),
    [
      [0, 2, true, false],
      [2, 4, false, false],
      [4, 5, false, true],
    ],
  );

  const original = openGguf(STORIES);
  try {
    assert.equal(original.metadataTypes.size, original.metadata.size);
    assert.equal(original.metadataTypes.get('llama.attention.layer_norm_rms_epsilon'), GgufValueType.FLOAT32);
    assert.equal(original.metadataTypes.get('llama.context_length'), GgufValueType.UINT32);
    const layersOf = (names: string[]) => [
      ...new Set(names.filter((n) => n.startsWith('blk.')).map((n) => Number(n.split('.')[1]))),
    ];
    const seen = new Set<string>();
    for (const shard of manifest.shards) {
      const path = join(dir, shard.file);
      assert.equal(sha256File(path), shard.sha256);
      const file = openGguf(path);
      try {
        assert.equal(readFileSync(path).length, shard.bytes);
        const names = [...file.tensors.keys()];
        assert.deepEqual(
          layersOf(names),
          Array.from({ length: shard.layerEnd - shard.layerStart }, (_, i) => shard.layerStart + i),
        );
        assert.equal(names.includes('token_embd.weight'), shard.index === 0);
        assert.equal(names.includes('output.weight'), shard.head);
        assert.equal(names.includes('output_norm.weight'), shard.head);
        for (const name of names) {
          seen.add(name);
          assert.deepEqual(file.readTensor(name), original.readTensor(name), name);
        }
        for (const [key, value] of original.metadata) {
          assert.deepEqual(file.metadata.get(key), value, key);
          assert.equal(file.metadataTypes.get(key), original.metadataTypes.get(key), key);
        }
        assert.equal(file.metadata.get('tessera.shard.index'), shard.index);
        assert.equal(file.metadata.get('tessera.shard.layer_end'), shard.layerEnd);
      } finally {
        file.close();
      }
    }
    assert.deepEqual(
      [...seen].sort(),
      [...original.tensors.keys()].sort(),
      'every tensor is in exactly the shards that need it',
    );

    const tokenizerPath = join(dir, manifest.tokenizerFile);
    assert.equal(sha256File(tokenizerPath), manifest.tokenizerSha256);
    const tokenizerFile = openGguf(tokenizerPath);
    assert.equal(tokenizerFile.tensors.size, 0);
    tokenizerFile.close();
    assert.deepEqual(openTokenizerFile(tokenizerPath).tokenizer.encode('Once upon a time'), [1, 403, 407, 261, 378]);
  } finally {
    original.close();
  }
});

test('shards of stories260K chained through Engine give the exact logits bytes of the unsplit model', async () => {
  const backend = await backendPromise;
  const prompt = [1, 403, 407, 261, 378];
  const expected = wholeModelLogits(backend, STORIES, prompt, 6);
  for (const shards of [2, 3, 5]) {
    const dir = join(scratch, `chain-${shards}`);
    shardModel(STORIES, shards, dir, { modelId: 'tiny-stories' });
    assert.deepEqual(shardChainLogits(backend, dir, shards, prompt, 6), expected, `${shards} shards`);
  }
});

test('a Hugging Face directory converts to GGUF shards that compute what the original GGUF computes', async () => {
  const backend = await backendPromise;
  const hfDir = join(scratch, 'stories260K-hf');
  exportGgufAsHf(STORIES, hfDir);
  const dir = join(scratch, 'from-hf');
  const manifest = shardModel(hfDir, 2, dir);
  assert.equal(manifest.modelId, 'stories260K-hf');
  assert.equal(manifest.source.file, 'stories260K-hf');
  assert.equal(manifest.config.ropeStyle, 'interleaved');
  const prompt = openTokenizerFile(join(dir, manifest.tokenizerFile)).tokenizer.encode('Once upon a time');
  assert.deepEqual(prompt, [1, 403, 407, 261, 378]);
  assert.deepEqual(shardChainLogits(backend, dir, 2, prompt, 4), wholeModelLogits(backend, STORIES, prompt, 4));
});

test('tied embeddings: the last shard carries token_embd as its head', async () => {
  const backend = await backendPromise;
  const model = await syntheticQwen2('q8_0', 3);
  const dir = join(scratch, 'qwen-tied');
  const manifest = shardModel(model, 2, dir, { modelId: 'qwen-test' });
  assert.equal(manifest.config.tiedEmbeddings, true);
  const last = openGguf(join(dir, manifest.shards[1]!.file));
  try {
    assert.ok(last.tensors.has('token_embd.weight'));
    assert.ok(!last.tensors.has('output.weight'));
    assert.ok(last.tensors.has('blk.2.attn_q.bias'));
  } finally {
    last.close();
  }
  assert.deepEqual(
    shardChainLogits(backend, dir, 2, [5, 17, 300], 3),
    wholeModelLogits(backend, model, [5, 17, 300], 3),
  );
});

test('shardModel refuses an unusable model id and a missing model', () => {
  assert.throws(
    () => shardModel(STORIES, 2, join(scratch, 'bad-id'), { modelId: '../x' }),
    /model id "..\/x" must be letters, digits/,
  );
  assert.throws(
    () => shardModel(join(scratch, 'nope.gguf'), 2, join(scratch, 'none')),
    /nope.gguf: no such file or directory/,
  );
});
