import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomValues } from '../../test/support/tensor-data.ts';
import type { Backend } from './backend.ts';
import { swiglu } from './swiglu-reference.ts';
import { createWasmBackend } from './wasm-backend.ts';

let backend: Backend;
before(async () => {
  backend = await createWasmBackend({ threads: 2 });
});
after(() => backend.close());

/**
 * The kernel's result for (gate, up) against the reference's, compared as bytes, every NaN of the
 * reference taken as the one quiet NaN the kernel writes (JavaScript engines, like WebAssembly, may
 * give a computed NaN either sign).
 */
function assertSameBytes(gate: Float32Array, up: Float32Array, what: string): void {
  const expected = gate.slice();
  swiglu(expected, up, gate.length);
  const expectedBits = new Uint32Array(expected.buffer);
  expected.forEach((v, i) => {
    if (Number.isNaN(v)) expectedBits[i] = 0x7fc00000;
  });
  const actual = gate.slice();
  backend.swiglu(actual, up, gate.length);
  assert.deepEqual(
    new Uint8Array(actual.buffer),
    new Uint8Array(expected.buffer),
    `${what}: the kernel's bytes differ from the reference's`,
  );
}

test('swiglu in the kernels gives the bytes of the JavaScript reference over random activations of several spreads', () => {
  for (const [length, scale, seed] of [
    [4864, 1, 1],
    [4864 * 3, 8, 2],
    [1001, 40, 3],
    [7, 0.01, 4],
    [1, 3, 5],
  ] as const) {
    const gate = randomValues(length, seed).map((v) => v * scale);
    const up = randomValues(length, seed + 100).map((v) => v * scale);
    assertSameBytes(gate, up, `${length} values at scale ${scale}`);
  }
});

test("swiglu in the kernels matches the reference at exp's limits and on special values, in the vector lanes and the odd tail", () => {
  const specials = [
    0,
    -0,
    1,
    -1,
    NaN,
    Infinity,
    -Infinity,
    3e38,
    -3e38,
    1e-45,
    -1e-45,
    1.2e-38,
    -1.2e-38,
    689.9,
    690,
    690.1,
    -708.9,
    -709,
    -709.1,
    709.5,
    745,
    -745,
    -746,
    800,
    -800,
    88.7,
    -88.7,
    103.9,
    -103.9,
    20,
    -20,
  ];
  // each special beside every other in a lane pair, so a lane's path never decides its neighbour's
  const gate = new Float32Array(specials.flatMap((a) => specials.flatMap((b) => [a, b])));
  const up = new Float32Array(gate.length).map((_, i) => specials[i % specials.length]!);
  assertSameBytes(gate, up, 'pairs of special values');
  assertSameBytes(gate.subarray(0, gate.length - 1), up, 'an odd count: the last value in the scalar tail');
  assertSameBytes(new Float32Array(0), new Float32Array(0), 'nothing');
});

test('swiglu leaves the values past length untouched and refuses operands shorter than length', () => {
  const gate = new Float32Array([1, 2, 3, 4]);
  const up = new Float32Array([5, 6, 7, 8]);
  backend.swiglu(gate, up, 2);
  assert.deepEqual([...gate.subarray(2)], [3, 4]);
  assert.throws(() => backend.swiglu(new Float32Array(3), new Float32Array(2), 3), /gate and up need 3 values/);
});
