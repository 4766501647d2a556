import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attention } from './attention-reference.ts';
import { keyQuadFloats, storeKeyQuads } from './key-quads.ts';

const f32 = (values: number[]) => Float32Array.from(values);

/** Keys given position by position ([positions × kvHeads × headDim]), in the quads attention reads. */
function quads(rows: number[], kvHeads: number, headDim: number): Float32Array {
  const positions = rows.length / (kvHeads * headDim);
  const out = new Float32Array(keyQuadFloats(positions, kvHeads, headDim));
  storeKeyQuads(out, 0, f32(rows), positions, kvHeads, headDim);
  return out;
}

test('attention weighs the values by softmax(q·k / sqrt(headDim)) over the visible positions', () => {
  // one head of 2 dims; keys at positions 0 and 1
  const keys = quads([1, 0, 0, 1], 1, 2);
  const values = f32([10, 20, 30, 40]);
  const q = f32([1, 0, 2, 2]); // query rows for positions 0 and 1
  const out = new Float32Array(4);
  attention(out, q, keys, values, new Float32Array(2), { heads: 1, kvHeads: 1, headDim: 2 }, 0, 2);

  // position 0 sees only itself: its value, exactly
  assert.deepEqual(Array.from(out.subarray(0, 2)), [10, 20]);
  // position 1 scores both keys equally (2/√2 each): the mean of the two values
  assert.deepEqual(Array.from(out.subarray(2, 4)), [20, 30]);
});

test('attention of later positions sees the cache before startPos', () => {
  const keys = quads([1, 0, 0, 1], 1, 2);
  const values = f32([10, 20, 30, 40]);
  const out = new Float32Array(2);
  attention(out, f32([1, 0]), keys, values, new Float32Array(2), { heads: 1, kvHeads: 1, headDim: 2 }, 1, 1);
  const w0 = Math.exp(1 / Math.SQRT2) / (Math.exp(1 / Math.SQRT2) + 1);
  assert.ok(Math.abs(out[0]! - (w0 * 10 + (1 - w0) * 30)) < 1e-4, `got ${out[0]}`);
  assert.ok(Math.abs(out[1]! - (w0 * 20 + (1 - w0) * 40)) < 1e-4, `got ${out[1]}`);
});

test('with grouped-query attention each pair of query heads reads its own key/value head', () => {
  // 4 query heads, 2 key/value heads, headDim 1, one position: each head gets its group's value
  const keys = quads([1, 1], 2, 1);
  const values = f32([5, 7]);
  const out = new Float32Array(4);
  attention(out, f32([1, 2, 3, 4]), keys, values, new Float32Array(1), { heads: 4, kvHeads: 2, headDim: 1 }, 0, 1);
  assert.deepEqual(Array.from(out), [5, 5, 7, 7]);
});
