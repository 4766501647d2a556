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

test('splitLayers: contiguous, as even as possible, and refuses more shards than layers', () => {
  assert.deepEqual(splitLayers(5, 3), [
    { start: 0, end: 2 },
    { start: 2, end: 4 },
    { start: 4, end: 5 },
  ]);
  assert.deepEqual(
    splitLayers(24, 4).map((r) => r.end - r.start),
    [6, 6, 6, 6],
  );
  assert.deepEqual(splitLayers(5, 1), [{ start: 0, end: 5 }]);
  assert.throws(() => splitLayers(5, 6), /cannot cut 5 layers into 6 shards: choose from 1 to 5/);
  assert.throws(() => splitLayers(5, 0), /cannot cut 5 layers into 0 shards/);
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
