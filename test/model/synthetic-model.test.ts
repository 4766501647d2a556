import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { dequantize } from '../../src/tensor/dequantize.ts';
import { ggmlTypeName } from '../../src/tensor/ggml-type.ts';
import { openGgufModel } from '../../src/model/gguf/gguf-model.ts';
import { openGguf } from '../../src/model/gguf/reader.ts';
import { LLAMA_3_2_1B, QWEN2_5_0_5B, SMOLLM_135M, writeSyntheticModel } from '../support/synthetic-model.ts';

const dir = mkdtempSync(join(tmpdir(), 'synthetic-model-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const small = { layers: 2, vocabSize: 1000 };
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

function stats(values: Float32Array): { mean: number; std: number; min: number; max: number } {
  let sum = 0;
  let squares = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    sum += v;
    squares += v * v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const mean = sum / values.length;
  return { mean, std: Math.sqrt(squares / values.length - mean * mean), min, max };
}

test('a small qwen2-shaped model opens with the shape it was written with', () => {
  const path = join(dir, 'qwen-f32.gguf');
  const info = writeSyntheticModel(path, QWEN2_5_0_5B, { type: 'f32', seed: 7, ...small });
  assert.equal(info.tensorTypes.size, 1 + 2 * 12 + 1);
  const model = openGgufModel(path);
  try {
    assert.deepEqual(model.config, {
      architecture: 'qwen2',
      vocabSize: 1000,
      hiddenSize: 896,
      ffnSize: 4864,
      layers: 2,
      heads: 14,
      kvHeads: 2,
      headDim: 64,
      ropeTheta: 1000000,
      ropeDim: 64,
      ropeStyle: 'neox',
      rmsEps: Math.fround(1e-6),
      contextLength: 32768,
      qkvBias: true,
      tiedEmbeddings: true,
    });
    assert.equal(model.weights.has('output.weight'), false);
    assert.deepEqual(model.weights.entry('blk.1.attn_k.bias').dims, [128]);
    assert.deepEqual(model.weights.entry('blk.1.ffn_down.weight').dims, [4864, 896]);
    assert.match(model.chatTemplate!, /<\|im_start\|>/);
    assert.equal(model.tokenizer.addBos, false);
    const ids = model.tokenizer.encode('Once upon a time, there was a girl.');
    assert.equal(model.tokenizer.decode(ids), 'Once upon a time, there was a girl.');
    assert.equal(model.tokenizer.tokenText(model.tokenizer.eosId!), '<|im_end|>');

    const read = (name: string) => {
      const entry = model.weights.entry(name);
      const bytes = new Uint8Array(entry.byteSize);
      model.weights.read(name, bytes);
      return new Float32Array(bytes.buffer);
    };
    const weights = stats(read('blk.0.attn_q.weight'));
    assert.ok(
      Math.abs(weights.mean) < 1e-3 && Math.abs(weights.std - 0.02) < 1e-3,
      `attn_q ${JSON.stringify(weights)}`,
    );
    const norms = stats(read('blk.1.ffn_norm.weight'));
    assert.ok(
      norms.min >= 0.9 && norms.max <= 1.1 && Math.abs(norms.mean - 1) < 0.02,
      `ffn_norm ${JSON.stringify(norms)}`,
    );
  } finally {
    model.weights.close();
  }
});

test('the same seed writes the same bytes; another seed other weights', () => {
  const a = join(dir, 'a.gguf');
  const b = join(dir, 'b.gguf');
  const c = join(dir, 'c.gguf');
  const tiny = { ...small, layers: 1 };
  writeSyntheticModel(a, QWEN2_5_0_5B, { type: 'q8_0', seed: 1, ...tiny });
  writeSyntheticModel(b, QWEN2_5_0_5B, { type: 'q8_0', seed: 1, ...tiny });
  writeSyntheticModel(c, QWEN2_5_0_5B, { type: 'q8_0', seed: 2, ...tiny });
  assert.equal(sha256(a), sha256(b));
  const [fa, fc] = [openGguf(a), openGguf(c)];
  try {
    assert.notDeepEqual(fa.readTensor('blk.0.ffn_up.weight'), fc.readTensor('blk.0.ffn_up.weight'));
    assert.equal(fa.readTensor('blk.0.ffn_up.weight').length, fc.readTensor('blk.0.ffn_up.weight').length);
  } finally {
    fa.close();
    fc.close();
  }
});

test('q8_0 and q4_K files carry llama-quantize metadata and per-tensor types, and decode close to the f32 weights', () => {
  const f32Path = join(dir, 'qwen-f32-seed3.gguf');
  const q4Path = join(dir, 'qwen-q4k.gguf');
  writeSyntheticModel(f32Path, QWEN2_5_0_5B, { type: 'f32', seed: 3, ...small });
  const info = writeSyntheticModel(q4Path, QWEN2_5_0_5B, { type: 'q4_K', seed: 3, ...small });
  assert.equal(info.tensorTypes.get('token_embd.weight'), 'Q8_0');
  assert.equal(info.tensorTypes.get('blk.0.attn_q.weight'), 'Q4_0');
  assert.equal(info.tensorTypes.get('blk.0.ffn_down.weight'), 'Q4_K');
  assert.equal(info.tensorTypes.get('blk.1.ffn_down.weight'), 'Q6_K');
  assert.equal(info.tensorTypes.get('blk.1.attn_v.weight'), 'Q8_0');
  assert.equal(info.tensorTypes.get('blk.1.attn_v.bias'), 'F32');

  const [reference, quantized] = [openGguf(f32Path), openGguf(q4Path)];
  try {
    assert.equal(quantized.metadata.get('general.file_type'), 15);
    assert.equal(quantized.metadata.get('general.quantization_version'), 2);
    assert.equal(quantized.metadata.get('general.alignment'), 32);
    assert.equal(quantized.metadata.get('tokenizer.ggml.pre'), 'qwen2');
    assert.equal(quantized.metadata.get('tokenizer.ggml.add_bos_token'), false);
    for (const name of ['blk.0.ffn_down.weight', 'blk.1.ffn_down.weight', 'blk.0.attn_q.weight']) {
      const info = quantized.tensors.get(name)!;
      const count = info.dims.reduce((x, y) => x * y, 1);
      const decoded = dequantize(info.type, quantized.readTensor(name), count);
      const exact = new Float32Array(reference.readTensor(name).slice().buffer);
      let error = 0;
      for (let i = 0; i < count; i++) error = Math.max(error, Math.abs(decoded[i]! - exact[i]!));
      // Half a quantization step of the block's range (about ±0.035): 4-bit steps are ~0.005.
      assert.ok(error < 0.006, `${name} (${ggmlTypeName(info.type)}) max error ${error}`);
    }
  } finally {
    reference.close();
    quantized.close();
  }
});

test('llama shapes: extra control tokens, BOS added, vocab_size and rope dimension written', () => {
  const path = join(dir, 'llama.gguf');
  const info = writeSyntheticModel(path, LLAMA_3_2_1B, { type: 'q4_K', seed: 1, ...small, layers: 1 });
  assert.equal(info.tensorTypes.get('token_embd.weight'), 'Q6_K');
  assert.equal(info.tensorTypes.get('blk.0.attn_q.weight'), 'Q4_K');
  const model = openGgufModel(path);
  try {
    assert.equal(model.config.architecture, 'llama');
    assert.equal(model.config.ropeTheta, 500000);
    assert.equal(model.tokenizer.addBos, true);
    assert.equal(model.tokenizer.tokenText(model.tokenizer.bosId!), '<|begin_of_text|>');
    assert.equal(model.tokenizer.tokenText(model.tokenizer.eosId!), '<|eot_id|>');
  } finally {
    model.weights.close();
  }
  const file = openGguf(path);
  assert.equal(file.metadata.get('llama.vocab_size'), 1000);
  assert.equal(file.metadata.get('llama.rope.dimension_count'), 64);
  file.close();
  const smol = writeSyntheticModel(join(dir, 'smol.gguf'), SMOLLM_135M, { type: 'q4_K', seed: 1, ...small, layers: 1 });
  assert.equal(smol.tensorTypes.get('blk.0.attn_q.weight'), 'Q4_0'); // 576 is not a multiple of 256
});
