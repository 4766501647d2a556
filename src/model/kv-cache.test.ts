import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../tensor/backend.ts';
import { keyQuadIndex } from '../tensor/key-quads.ts';
import { createWasmBackend } from '../tensor/wasm-backend.ts';
import { KvCache } from './kv-cache.ts';
import type { ModelConfig } from './model-files.ts';

const CONFIG = { kvHeads: 2, headDim: 3, contextLength: 4096 } as ModelConfig;
const ROW = CONFIG.kvHeads * CONFIG.headDim;

let backend: Backend;
before(async () => {
  backend = await createWasmBackend({ threads: 1 });
});
after(() => backend.close());

/** Rows of positions [start, start + n) whose every value names its position, head and dimension. */
function rows(start: number, n: number, layer: number, sign = 1): Float32Array {
  const out = new Float32Array(n * ROW);
  for (let t = 0; t < n; t++)
    for (let i = 0; i < ROW; i++) out[t * ROW + i] = sign * (layer * 1e6 + (start + t) * 100 + i);
  return out;
}

test('keys lie in quads of positions and values row by row, and growing keeps every position written', () => {
  const cache = new KvCache(CONFIG, 2, 1 << 20, backend);
  // 5 positions, then 30 more: past the first capacity (16), so the arrays are moved once
  for (const [start, n] of [
    [0, 5],
    [5, 30],
  ] as const) {
    cache.reserve(start + n);
    for (let l = 0; l < 2; l++) cache.store(l, start, n, rows(start, n, l), rows(start, n, l, -1));
    cache.length = start + n;
  }
  for (let l = 0; l < 2; l++) {
    const keys = cache.keysOf(l);
    const values = cache.valuesOf(l);
    for (let p = 0; p < 35; p++)
      for (let h = 0; h < CONFIG.kvHeads; h++)
        for (let d = 0; d < CONFIG.headDim; d++) {
          const expected = l * 1e6 + p * 100 + h * CONFIG.headDim + d;
          assert.equal(keys[keyQuadIndex(p, h, d, CONFIG.kvHeads, CONFIG.headDim)], expected);
          assert.equal(values[p * ROW + h * CONFIG.headDim + d], -expected);
        }
  }
  cache.release();
});

test("a released cache's memory goes to the next cache, and the released one refuses use", () => {
  const first = new KvCache(CONFIG, 1, 1 << 20, backend);
  first.reserve(64);
  const at = [first.keysOf(0).byteOffset, first.valuesOf(0).byteOffset];
  first.release();
  assert.equal(first.bytes, 0);
  assert.throws(() => first.keysOf(0), /used after release/);
  assert.throws(() => first.reserve(1), /used after release/);
  first.release(); // a second release gives nothing back twice
  const second = new KvCache(CONFIG, 1, 1 << 20, backend);
  second.reserve(64);
  assert.deepEqual([second.keysOf(0).byteOffset, second.valuesOf(0).byteOffset].sort(), [...at].sort());
  const third = new KvCache(CONFIG, 1, 1 << 20, backend);
  third.reserve(64);
  assert.ok(!at.includes(third.keysOf(0).byteOffset), 'memory a cache holds is not handed out again');
  second.release();
  third.release();
});

test("capacities are powers of two up to the budget, so caches of different prompt lengths reuse each other's memory", () => {
  // room for 1000 positions: 2 layers × 6 values × 8 bytes a position
  const budget = 1000 * 2 * ROW * 8;
  const first = new KvCache(CONFIG, 2, budget, backend);
  first.reserve(100);
  assert.equal(first.bytes, 128 * 2 * ROW * 8);
  const regions = [0, 1].flatMap((l) => [first.keysOf(l).byteOffset, first.valuesOf(l).byteOffset]);
  first.release();
  const second = new KvCache(CONFIG, 2, budget, backend);
  second.reserve(117);
  const reused = [0, 1].flatMap((l) => [second.keysOf(l).byteOffset, second.valuesOf(l).byteOffset]);
  assert.deepEqual([...reused].sort(), [...regions].sort());
  second.reserve(900);
  assert.equal(second.bytes, 1000 * 2 * ROW * 8, 'the last growth stops at the budget');
  second.release();
});
