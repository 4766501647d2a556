import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GgmlType } from '../tensor/ggml-type.ts';
import { tensorTypeFor } from './quant-mix.ts';

const role = (name: string, dims: number[], layers = 24, tiedEmbeddings = true) => ({
  name,
  dims,
  layers,
  tiedEmbeddings,
});

test('vectors stay F32 and q8_0 is Q8_0 throughout (F16 when 32 does not divide a row)', () => {
  assert.equal(tensorTypeFor('q8_0', role('blk.0.attn_norm.weight', [896])), GgmlType.F32);
  assert.equal(tensorTypeFor('q8_0', role('blk.0.attn_q.bias', [896])), GgmlType.F32);
  assert.equal(tensorTypeFor('q8_0', role('token_embd.weight', [896, 151936])), GgmlType.Q8_0);
  assert.equal(tensorTypeFor('q8_0', role('blk.0.ffn_down.weight', [172, 64])), GgmlType.F16);
  assert.equal(tensorTypeFor('f32', role('blk.0.ffn_down.weight', [4864, 896])), GgmlType.F32);
});

test("q4_K follows llama.cpp's Q4_K_M: Q6_K head, Q6_K attn_v/ffn_down in the layers that get more bits", () => {
  // 24 layers: the first and last 3, and layers 5, 8, ..., 20 get more bits.
  const more = [0, 1, 2, 5, 8, 11, 14, 17, 20, 21, 22, 23];
  for (let layer = 0; layer < 24; layer++) {
    const expected = more.includes(layer) ? GgmlType.Q6_K : GgmlType.Q4_K;
    assert.equal(
      tensorTypeFor('q4_K', role(`blk.${layer}.ffn_down.weight`, [8192, 2048])),
      expected,
      `ffn_down ${layer}`,
    );
    assert.equal(tensorTypeFor('q4_K', role(`blk.${layer}.attn_v.weight`, [2048, 512])), expected, `attn_v ${layer}`);
    assert.equal(tensorTypeFor('q4_K', role(`blk.${layer}.attn_q.weight`, [2048, 2048])), GgmlType.Q4_K);
  }
  assert.equal(tensorTypeFor('q4_K', role('token_embd.weight', [2048, 128256])), GgmlType.Q6_K);
  assert.equal(tensorTypeFor('q4_K', role('token_embd.weight', [2048, 128256], 16, false)), GgmlType.Q4_K);
  assert.equal(tensorTypeFor('q4_K', role('output.weight', [2048, 128256], 16, false)), GgmlType.Q6_K);
});

test('q4_K rows that 256 does not divide fall back: Q4_K to Q4_0, Q6_K to Q8_0, then F16', () => {
  assert.equal(tensorTypeFor('q4_K', role('token_embd.weight', [896, 151936])), GgmlType.Q8_0);
  assert.equal(tensorTypeFor('q4_K', role('blk.3.attn_q.weight', [896, 896])), GgmlType.Q4_0);
  assert.equal(tensorTypeFor('q4_K', role('blk.0.attn_v.weight', [896, 128])), GgmlType.Q8_0);
  assert.equal(tensorTypeFor('q4_K', role('blk.0.ffn_down.weight', [4864, 896])), GgmlType.Q6_K);
  assert.equal(tensorTypeFor('q4_K', role('blk.3.ffn_down.weight', [4864, 896])), GgmlType.Q4_K);
  assert.equal(tensorTypeFor('q4_K', role('blk.3.ffn_down.weight', [172, 64])), GgmlType.F16);
});
