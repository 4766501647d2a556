import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend, Matrix } from './backend.ts';
import { dequantize } from './dequantize.ts';
import { GgmlType, ggmlTypeName } from './ggml-type.ts';
import { quantize } from './quantize.ts';
import { randomValues } from '../../test/support/tensor-data.ts';
import { createReferenceBackend, createWasmBackend } from './wasm-backend.ts';

const FLOAT_TYPES: GgmlType[] = [GgmlType.F32, GgmlType.F16, GgmlType.BF16];
const BLOCK32_TYPES: GgmlType[] = [GgmlType.Q8_0, GgmlType.Q4_0];
const SUPER_TYPES: GgmlType[] = [GgmlType.Q4_K, GgmlType.Q6_K];
const ALL_TYPES = [...FLOAT_TYPES, ...BLOCK32_TYPES, ...SUPER_TYPES];

/** Activation scale block of each weight type (0: activations stay f32). */
function activationBlock(type: GgmlType): number {
  return FLOAT_TYPES.includes(type) ? 0 : BLOCK32_TYPES.includes(type) ? 32 : 256;
}

/** Column counts of real models that each type can hold (K-quants need multiples of 256). */
function shapesFor(type: GgmlType): number[] {
  if (SUPER_TYPES.includes(type)) return [4864, 512];
  if (BLOCK32_TYPES.includes(type)) return [896, 4864];
  return [896, 4864, 172, 61]; // odd widths exercise the float kernels' column tails
}

function roundHalfEven(v: number): number {
  const floor = Math.floor(v),
    rest = v - floor;
  if (rest !== 0.5) return rest < 0.5 ? floor : floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * The activations as the kernels see them: per block, scale d = max|x|/127 and values
 * round-half-even(x / d) in f32 arithmetic. Returns the values q·d, widened.
 */
function quantizedActivations(x: Float32Array, block: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let b = 0; b < x.length; b += block) {
    let amax = 0;
    for (let i = b; i < b + block; i++) amax = Math.max(amax, Math.abs(x[i]!));
    const d = Math.fround(amax / 127);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    for (let i = b; i < b + block; i++) out[i] = roundHalfEven(Math.fround(x[i]! * id)) * d;
  }
  return out;
}

interface Case {
  type: GgmlType;
  rows: number;
  cols: number;
  nTokens: number;
  weights: Uint8Array;
  x: Float32Array;
}

function makeCase(type: GgmlType, rows: number, cols: number, nTokens: number, seed: number): Case {
  const weights = quantize(type, randomValues(rows * cols, seed));
  // Activations with a spread of magnitudes, like hidden states after a norm.
  const x = randomValues(nTokens * cols, seed + 1000, 3);
  return { type, rows, cols, nTokens, weights, x };
}

function load(backend: Backend, c: Case): Matrix {
  const m = backend.allocMatrix(c.type, c.rows, c.cols);
  m.bytes.set(c.weights);
  return m;
}

function sameBytes(a: Float32Array, b: Float32Array): boolean {
  return (
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

let one: Backend;
let two: Backend;
const reference = createReferenceBackend();

before(async () => {
  one = await createWasmBackend({ threads: 1 });
  two = await createWasmBackend({ threads: 2 });
});

after(async () => {
  await one.close();
  await two.close();
});

// Tolerances. Against exact f64 products of the dequantized weights with the activations the
// kernels actually use (f32, or 8-bit per block for quantized weights), the only error is f32
// rounding: at most (n + 8)·2^-24·Σ|terms| for n sequential additions (n ≤ cols/8), which for
// these shapes (and Q4_K's split into scale and min terms, ≤ 4× the plain terms) stays below
// 1e-4·Σ|w·x|. Against the unquantized activations, the 8-bit rounding adds at most
// Σ|w|·|x − x̂| with |x − x̂| ≤ d/2 per element.
test('every type matches the f64 reference within the stated tolerance', () => {
  let seed = 1;
  for (const type of ALL_TYPES) {
    for (const cols of shapesFor(type)) {
      const c = makeCase(type, 24, cols, 7, seed++);
      const got = two.matmul(load(two, c), c.x, c.nTokens);
      const want = reference.matmul(load(reference, c), c.x, c.nTokens);
      const block = activationBlock(type);
      const xq = block === 0 ? Float64Array.from(c.x) : quantizedActivations(c.x, block);
      const row = new Float32Array(cols);
      for (let r = 0; r < c.rows; r++) {
        dequantize(type, c.weights.subarray((r * c.weights.length) / c.rows), cols, row);
        for (let t = 0; t < c.nTokens; t++) {
          let exact = 0,
            magnitude = 0,
            inputError = 0;
          for (let k = 0; k < cols; k++) {
            const w = row[k]!,
              xk = xq[t * cols + k]!;
            exact += w * xk;
            magnitude += Math.abs(w * xk);
            inputError += Math.abs(w) * Math.abs(c.x[t * cols + k]! - xk);
          }
          const value = got[t * c.rows + r]!;
          const where = `${ggmlTypeName(type)} ${cols} cols, row ${r} token ${t}`;
          assert.ok(Math.abs(value - exact) <= 1e-4 * magnitude, `${where}: ${value} vs ${exact}`);
          assert.ok(
            Math.abs(value - want[t * c.rows + r]!) <= inputError + 1e-4 * magnitude,
            `${where}: ${value} vs reference ${want[t * c.rows + r]}`,
          );
        }
      }
    }
  }
});

test('results are bit-identical for 1 and 2 threads and for 1-token and 7-token calls', () => {
  let seed = 100;
  for (const type of ALL_TYPES) {
    const cols = SUPER_TYPES.includes(type) ? 4864 : 896;
    const c = makeCase(type, 136, cols, 7, seed++);
    const single = one.matmul(load(one, c), c.x, c.nTokens);
    const pair = two.matmul(load(two, c), c.x, c.nTokens);
    assert.ok(sameBytes(single, pair), `${ggmlTypeName(type)}: 1 vs 2 threads`);
    const m = load(two, c);
    for (let t = 0; t < c.nTokens; t++) {
      const alone = two.matmul(m, c.x.subarray(t * cols, (t + 1) * cols), 1);
      assert.ok(
        sameBytes(alone, pair.subarray(t * c.rows, (t + 1) * c.rows)),
        `${ggmlTypeName(type)}: token ${t} alone`,
      );
    }
    // A 5-token call whose tokens sit at other positions of the 4-token groups.
    const tail = two.matmul(m, c.x.subarray(2 * cols), 5);
    assert.ok(sameBytes(tail, pair.subarray(2 * c.rows)), `${ggmlTypeName(type)}: tokens 2..6`);
  }
});

test('bit-identical across token groupings and row chunks of awkward sizes', () => {
  // Kernels compute four tokens of a row, or four rows of a token, per SIMD vector: 37 rows (a
  // remainder of 1, and 3-row chunks at 2 threads) and 9 tokens (two groups and a tail), cut at
  // every offset, put each output in every lane position and every code path.
  let seed = 300;
  for (const type of [...BLOCK32_TYPES, ...SUPER_TYPES]) {
    const cols = SUPER_TYPES.includes(type) ? 512 : 96;
    const c = makeCase(type, 37, cols, 9, seed++);
    const m1 = load(one, c),
      m2 = load(two, c);
    const all = one.matmul(m1, c.x, c.nTokens);
    assert.ok(sameBytes(two.matmul(m2, c.x, c.nTokens), all), `${ggmlTypeName(type)}: 1 vs 2 threads`);
    for (let start = 0; start < c.nTokens; start++) {
      for (const count of [1, 2, 5, c.nTokens - start]) {
        if (start + count > c.nTokens) continue;
        const part = two.matmul(m2, c.x.subarray(start * cols, (start + count) * cols), count);
        assert.ok(
          sameBytes(part, all.subarray(start * c.rows, (start + count) * c.rows)),
          `${ggmlTypeName(type)}: tokens ${start}..${start + count - 1}`,
        );
      }
    }
  }
});

test('hundreds of back-to-back products of mixed sizes give the single-thread bytes', () => {
  // Small and large jobs alternate, so workers are sometimes still spinning, sometimes asleep,
  // and sometimes arrive after the caller has finished a job alone.
  const shapes: [GgmlType, number, number][] = [
    [GgmlType.Q8_0, 8, 64],
    [GgmlType.Q8_0, 200, 896],
    [GgmlType.F32, 3, 61],
    [GgmlType.Q4_K, 160, 512],
    [GgmlType.F16, 300, 172],
    [GgmlType.Q6_K, 300, 256],
    [GgmlType.Q4_0, 600, 128],
  ];
  const cases = shapes.map(([type, rows, cols], i) => makeCase(type, rows, cols, 1 + (i % 3), 500 + i));
  const pairs = cases.map((c) => ({ c, a: load(one, c), b: load(two, c) }));
  for (let round = 0; round < 40; round++) {
    for (const { c, a, b } of pairs) {
      assert.ok(
        sameBytes(two.matmul(b, c.x, c.nTokens), one.matmul(a, c.x, c.nTokens)),
        `${ggmlTypeName(c.type)} ${c.rows}×${c.cols}, round ${round}`,
      );
    }
  }
});

test('an unclosed backend does not keep the process alive', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-backend-'));
  try {
    const script = join(dir, 'unclosed.mjs');
    writeFileSync(
      script,
      [
        `const { createWasmBackend } = await import(${JSON.stringify(new URL('./wasm-backend.ts', import.meta.url).href)});`,
        'const backend = await createWasmBackend({ threads: 2 });',
        'const m = backend.allocMatrix(0, 512, 512);',
        'backend.matmul(m, new Float32Array(512), 1);',
        "console.log('computed');",
      ].join('\n'),
    );
    // The timeout only guards against a hang; the assertion is on how the process ended.
    const child = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(child.signal, null, 'the process had to be killed');
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), 'computed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('row() dequantizes one row', () => {
  const c = makeCase(GgmlType.Q4_K, 5, 512, 1, 7);
  const m = load(two, c);
  const rowBytes = c.weights.length / c.rows;
  const want = dequantize(GgmlType.Q4_K, c.weights.subarray(3 * rowBytes, 4 * rowBytes), 512);
  assert.deepEqual(two.row(m, 3, new Float32Array(512)), want);
  assert.throws(() => two.row(m, 5, new Float32Array(512)), /row 5 outside/);
});

test('matrices stay valid while later allocations grow the memory', () => {
  const c = makeCase(GgmlType.Q8_0, 16, 896, 2, 11);
  const first = load(two, c);
  const before = two.matmul(first, c.x, 2);
  const big = two.allocMatrix(GgmlType.F32, 1024, 4096); // 16 MiB: the memory must grow
  big.bytes[big.bytes.length - 1] = 1;
  assert.ok(sameBytes(two.matmul(first, c.x, 2), before));
  first.bytes.set(quantize(GgmlType.Q8_0, new Float32Array(16 * 896)));
  assert.ok(
    two.matmul(first, c.x, 2).every((v) => v === 0),
    'writes through an old view reach the kernels',
  );
});

test('bad arguments are refused', () => {
  const m = two.allocMatrix(GgmlType.Q8_0, 4, 64);
  assert.throws(() => two.matmul(m, new Float32Array(100), 2), /need 128/);
  assert.throws(
    () => two.matmul(reference.allocMatrix(GgmlType.Q8_0, 4, 64), new Float32Array(64), 1),
    /not allocated by this backend/,
  );
  assert.throws(() => two.allocMatrix(GgmlType.Q4_K, 4, 100), /multiple of 256/);
});

test('a closed backend refuses work', async () => {
  const backend = await createWasmBackend({ threads: 2 });
  const m = backend.allocMatrix(GgmlType.F32, 2, 8);
  await backend.close();
  assert.throws(() => backend.matmul(m, new Float32Array(8), 1), /closed/);
});
