import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomValues } from '../../test/support/tensor-data.ts';
import { attention } from './attention-reference.ts';
import type { AttentionShape, Backend } from './backend.ts';
import { keyQuadIndex } from './key-quads.ts';
import { createWasmBackend } from './wasm-backend.ts';

interface Case extends AttentionShape {
  readonly startPos: number;
  readonly n: number;
  /** Spread of the inputs: large ones push scores far apart, into exp's underflow and subnormals. */
  readonly scale?: number;
}

const CASES: Case[] = [
  { heads: 4, kvHeads: 4, headDim: 8, startPos: 0, n: 1 },
  { heads: 8, kvHeads: 2, headDim: 64, startPos: 0, n: 600 },
  { heads: 14, kvHeads: 2, headDim: 64, startPos: 511, n: 1 },
  { heads: 2, kvHeads: 1, headDim: 128, startPos: 37, n: 90 },
  // head sizes off the kernels' 4- and 8-wide steps: their scalar tails
  { heads: 3, kvHeads: 3, headDim: 13, startPos: 5, n: 7 },
  { heads: 6, kvHeads: 3, headDim: 10, startPos: 0, n: 33 },
  { heads: 4, kvHeads: 2, headDim: 8, startPos: 300, n: 5, scale: 20 },
  { heads: 5, kvHeads: 5, headDim: 96, startPos: 0, n: 3, scale: 40 },
  // decode steps, where two query heads of one key/value head share each load: an odd group
  // leaves a head alone, odd head sizes take the scalar tails, one position is a partial last quad
  { heads: 6, kvHeads: 2, headDim: 10, startPos: 40, n: 1 },
  { heads: 12, kvHeads: 3, headDim: 13, startPos: 9, n: 1 },
  { heads: 7, kvHeads: 1, headDim: 64, startPos: 0, n: 1 },
  { heads: 8, kvHeads: 4, headDim: 128, startPos: 1000, n: 1, scale: 20 },
];

/** More shapes, drawn from a seeded generator so a failure reproduces. */
function randomCases(count: number, seed: number): Case[] {
  const draw = randomValues(count * 5, seed);
  const pick = (i: number, lo: number, hi: number) => lo + Math.floor(((draw[i]! + 1) / 2) * (hi - lo + 1));
  const cases: Case[] = [];
  for (let c = 0; c < count; c++) {
    const kvHeads = pick(5 * c, 1, 4);
    const heads = kvHeads * pick(5 * c + 1, 1, 4);
    const headDim = pick(5 * c + 2, 8, 128);
    const n = pick(5 * c + 3, 1, 600);
    // prefills long enough to matter, decode steps deep into a cache
    const startPos = draw[5 * c + 4]! < 0 ? 0 : pick(5 * c + 4, 1, n > 64 ? 64 : 700);
    cases.push({ heads, kvHeads, headDim, startPos, n });
  }
  return cases;
}

function bytesOf(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

interface Inputs {
  readonly q: Float32Array;
  readonly keys: Float32Array;
  readonly values: Float32Array;
}

function inputsOf(c: Case, seed: number): Inputs {
  const queries = c.n * c.heads * c.headDim;
  // a cache with room beyond its valid positions, as a KvCache has
  const cached = (c.startPos + c.n + 3) * c.kvHeads * c.headDim;
  return {
    q: randomValues(queries, seed, c.scale ?? 1),
    keys: randomValues(cached, seed + 1, c.scale ?? 1),
    values: randomValues(cached, seed + 2, 3),
  };
}

function referenceOf(c: Case, { q, keys, values }: Inputs): Float32Array {
  const out = new Float32Array(c.n * c.heads * c.headDim);
  attention(out, q, keys, values, new Float32Array(c.startPos + c.n), c, c.startPos, c.n);
  return out;
}

function label(c: Case): string {
  return `heads ${c.heads}/${c.kvHeads} × ${c.headDim}, positions ${c.startPos} + ${c.n}`;
}

let one: Backend;
let two: Backend;

before(async () => {
  one = await createWasmBackend({ threads: 1 });
  two = await createWasmBackend({ threads: 2 });
});

after(async () => {
  await one.close();
  await two.close();
});

test('the attention kernel gives the bytes of the JavaScript reference at 1 and 2 threads', () => {
  const cases = [...CASES, ...randomCases(10, 11)];
  for (const [i, c] of cases.entries()) {
    const inputs = inputsOf(c, 100 * i);
    const expected = bytesOf(referenceOf(c, inputs));
    for (const backend of [one, two]) {
      const out = new Float32Array(c.n * c.heads * c.headDim).fill(Number.NaN);
      backend.attention(out, inputs.q, inputs.keys, inputs.values, c, c.startPos, c.n);
      assert.ok(
        bytesOf(out).equals(expected),
        `${label(c)} at ${backend.threads} thread(s) differs from the reference`,
      );
    }
  }
});

test("large scores reach exp's floor (weights of 0) and weights just above it, and the kernel still matches", () => {
  const c = CASES.find((x) => x.scale === 20)!;
  const inputs = inputsOf(c, 7);
  const heads = c.heads;
  // the reference's weights (before normalising) for the first query row and head
  const scores = new Float32Array(c.startPos + 1);
  attention(
    new Float32Array(c.n * heads * c.headDim),
    inputs.q,
    inputs.keys,
    inputs.values,
    scores,
    { ...c, heads: 1, kvHeads: 1 },
    c.startPos,
    1,
  );
  assert.ok(
    scores.some((w) => w === 0),
    'some weights are below e^-86, taken as 0',
  );
  assert.ok(
    scores.some((w) => w !== 0 && w < 1e-20),
    'some weights lie near the floor, where 2^k is small',
  );
  const out = new Float32Array(c.n * heads * c.headDim);
  two.attention(out, inputs.q, inputs.keys, inputs.values, c, c.startPos, c.n);
  assert.ok(bytesOf(out).equals(bytesOf(referenceOf(c, inputs))));
});

test('a decode step reads only the cached positions before its own, whatever lies beyond', () => {
  const c: Case = { heads: 4, kvHeads: 2, headDim: 16, startPos: 20, n: 1 };
  const inputs = inputsOf(c, 3);
  const first = new Float32Array(c.heads * c.headDim);
  two.attention(first, inputs.q, inputs.keys, inputs.values, c, c.startPos, c.n);
  // overwrite the cache past the visible positions, the rest of the last quad of keys included
  const positions = inputs.keys.length / (c.kvHeads * c.headDim);
  for (let p = c.startPos + 1; p < positions; p++)
    for (let h = 0; h < c.kvHeads; h++)
      for (let d = 0; d < c.headDim; d++) inputs.keys[keyQuadIndex(p, h, d, c.kvHeads, c.headDim)] = Number.NaN;
  inputs.values.fill(Number.NaN, (c.startPos + 1) * c.kvHeads * c.headDim);
  const second = new Float32Array(c.heads * c.headDim);
  two.attention(second, inputs.q, inputs.keys, inputs.values, c, c.startPos, c.n);
  assert.ok(bytesOf(second).equals(bytesOf(first)));
  assert.ok(second.every(Number.isFinite));
});

test("keys and values in the backend's own memory (allocFloats) are read in place, with the bytes of copied ones", () => {
  for (const [i, c] of CASES.entries()) {
    const inputs = inputsOf(c, 500 + i);
    const expected = bytesOf(referenceOf(c, inputs));
    for (const backend of [one, two]) {
      const keys = backend.allocFloats(inputs.keys.length);
      const values = backend.allocFloats(inputs.values.length);
      keys.set(inputs.keys);
      values.set(inputs.values);
      const out = new Float32Array(c.n * c.heads * c.headDim);
      backend.attention(out, inputs.q, keys, values, c, c.startPos, c.n);
      assert.ok(bytesOf(out).equals(expected), `${label(c)} at ${backend.threads} thread(s), in place`);
      backend.freeFloats(keys);
      backend.freeFloats(values);
    }
  }
});

test('a region given back is handed out again for the same size, and arrays not from allocFloats are ignored', () => {
  const first = one.allocFloats(1000);
  const at = first.byteOffset;
  one.freeFloats(first);
  one.freeFloats(new Float32Array(1000));
  const again = one.allocFloats(1000);
  assert.equal(again.byteOffset, at);
  const other = one.allocFloats(1000);
  assert.notEqual(other.byteOffset, at, 'a region is handed out once');
  one.freeFloats(again);
  one.freeFloats(other);
});

test("past the 4 GiB of the kernels' memory, allocFloats gives ordinary arrays, which attention copies in", async () => {
  const backend = await createWasmBackend({ threads: 1 });
  try {
    // 512 MiB at a time: the memory grows without touching its pages, so this costs no RAM
    let outside = backend.allocFloats(2 ** 27);
    for (let i = 0; i < 10 && outside.buffer instanceof SharedArrayBuffer; i++) outside = backend.allocFloats(2 ** 27);
    assert.ok(!(outside.buffer instanceof SharedArrayBuffer), 'the memory ran out before 5 GiB');
    assert.equal(outside.length, 2 ** 27);
    const c = CASES[2]!;
    const inputs = inputsOf(c, 900);
    outside.set(inputs.keys);
    const out = new Float32Array(c.n * c.heads * c.headDim);
    backend.attention(out, inputs.q, outside, inputs.values, c, c.startPos, c.n);
    assert.ok(bytesOf(out).equals(bytesOf(referenceOf(c, inputs))));
    backend.freeFloats(outside);
  } finally {
    await backend.close();
  }
});

test('attention refuses shapes it cannot run before touching its output', () => {
  const out = new Float32Array(8).fill(5);
  const x = new Float32Array(64);
  assert.throws(() => one.attention(out, x, x, x, { heads: 3, kvHeads: 2, headDim: 2 }, 0, 1), /does not divide/);
  assert.throws(() => one.attention(out, x, x, x, { heads: 2, kvHeads: 2, headDim: 2 }, 0, 0), /bad attention shape/);
  assert.throws(() => one.attention(out, x, x, x, { heads: 2, kvHeads: 2, headDim: 4 }, 20, 1), /keys and values need/);
  assert.ok(out.every((v) => v === 5));
});
