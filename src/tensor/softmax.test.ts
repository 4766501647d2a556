import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { argmax, expWeights, logSumExp, topIndices } from './softmax.ts';
import { randomValues } from '../../test/support/tensor-data.ts';

/** log Σ e^v in f64, one term at a time. */
function referenceLogSumExp(values: Float32Array): number {
  let max = -Infinity;
  for (const v of values) if (v > max) max = v;
  let sum = 0;
  for (const v of values) sum += Math.exp(v - max);
  return max + Math.log(sum);
}

function maxOf(values: Float32Array): number {
  return values.reduce((a, b) => Math.max(a, b), -Infinity);
}

/** Logits as a language model's head gives them: most far below a few near the top. */
function logitLike(count: number, seed: number, offset = 0): Float32Array {
  const values = randomValues(count, seed, 12);
  for (let i = 0; i < count; i += 97) values[i] = values[i]! + 8;
  return values.map((v) => v + offset);
}

test('logSumExp is within 3e-7 of an f64 sum, at any length and offset', () => {
  for (const count of [1, 15, 16, 17, 1000, 151936]) {
    // An offset of 1e4 leaves the f32 logits 1e-3 apart: x − max is exact only if formed with care.
    for (const offset of [0, -50, 1e4]) {
      const values = logitLike(count, count + offset, offset);
      const error = Math.abs(logSumExp(values) - referenceLogSumExp(values));
      assert.ok(error < 3e-7, `${count} values, offset ${offset}: off by ${error}`);
    }
  }
});

test('logSumExp of nearly uniform logits, the worst case for rounding x − max', () => {
  // Every term counts about equally, each x − max ≈ −10 carries its f32 rounding error unless corrected.
  const values = randomValues(151936, 3, 0.01).map((v, i) => (i === 0 ? 10.3 : v + 0.3));
  const error = Math.abs(logSumExp(values) - referenceLogSumExp(values));
  assert.ok(error < 3e-7, `off by ${error}`);
});

test('logSumExp: −∞ counts as nothing, NaN poisons the result', () => {
  assert.equal(logSumExp(new Float32Array([0, -Infinity, -Infinity])), 0);
  assert.equal(logSumExp(new Float32Array([2, -Infinity, 2])), 2 + Math.LN2);
  assert.ok(Number.isNaN(logSumExp(new Float32Array([1, Number.NaN, 2]))));
  // Terms below e^−86 relative to the largest are dropped; they could not move an f64 sum anyway.
  assert.equal(logSumExp(new Float32Array([0, -87, -1000])), 0);
});

test('argmax takes the lowest index of the largest value and never a NaN', () => {
  assert.equal(argmax(new Float32Array([0.5, 3, 2.9, 3, -1])), 1);
  assert.equal(argmax(new Float32Array([Number.NaN, 1, Number.NaN, 2, 2])), 3);
  assert.equal(argmax(new Float32Array([-Infinity, -Infinity])), 0);
  assert.equal(argmax(new Float32Array([Number.NaN, Number.NaN])), 0);
  for (const count of [1, 17, 151936]) {
    const values = randomValues(count, count, 10);
    values[count - 1] = 11; // the last value, past the last whole group of 16 when count is odd
    assert.equal(argmax(values), count - 1);
    values[count >> 1] = 11;
    assert.equal(argmax(values), count === 1 ? 0 : count >> 1);
  }
});

test('expWeights: e^((x − shift)/T) to f32 precision of the exponent, 1 at the shift, 0 below e^−86', () => {
  const values = logitLike(151936, 9);
  const shift = maxOf(values);
  for (const temperature of [0.3, 1, 1.7]) {
    const { weights, total } = expWeights(values, shift, temperature);
    assert.equal(weights.length, values.length);
    assert.ok(Math.abs(total - weights.reduce((a, b) => a + b, 0)) < 3e-7 * total);
    for (let i = 0; i < values.length; i++) {
      const exponent = (values[i]! - shift) / temperature;
      const expected = exponent < -86 ? 0 : Math.exp(exponent);
      const error = Math.abs(weights[i]! - expected);
      assert.ok(
        error <= 1e-7 * (2 + Math.abs(exponent)) * expected + 1e-38,
        `weight ${i} at T ${temperature}: ${weights[i]} vs ${expected}`,
      );
    }
  }
  assert.deepEqual([...expWeights(new Float32Array([1, -Infinity, 1 - 90, 1]), 1, 1).weights], [1, 0, 0, 1]);
  // a floor drops the weights below it from the weights and from their total
  const floored = expWeights(new Float32Array([0, -1, -2, -3]), 0, 1, { floor: 0.2 });
  assert.deepEqual(
    [...floored.weights].map((w) => w > 0),
    [true, true, false, false],
  );
  assert.ok(Math.abs(floored.total - (1 + Math.exp(-1))) < 3e-7);
});

/** Indices by value, largest first, ties to the lower index, NaNs left out: what a full sort gives. */
function sortedIndices(values: Float32Array): number[] {
  return [...values.keys()].filter((i) => !Number.isNaN(values[i])).sort((a, b) => values[b]! - values[a]! || a - b);
}

test('topIndices is the start of a full sort, ties to the lower index', () => {
  const values = logitLike(151936, 21);
  // a tie across the 5th place, one copy before the original and one after
  const fifth = sortedIndices(values)[4]!;
  values[fifth - 1] = values[fifth]!;
  values[fifth + 1] = values[fifth]!;
  const sorted = sortedIndices(values);
  for (const k of [1, 5, 6, 20, 64, 1000, 30000])
    assert.deepEqual(topIndices(values, k), sorted.slice(0, k), `k = ${k}`);
  // values too spread out for any threshold near the largest: then all of them are sorted
  const wide = randomValues(1000, 5, 1e4);
  assert.deepEqual(topIndices(wide, 900), sortedIndices(wide).slice(0, 900));
  assert.deepEqual(topIndices(new Float32Array([1, Number.NaN, -Infinity, 3, 1]), 10), [3, 0, 4, 2]);
  assert.deepEqual(topIndices(values, 0), []);
});

test('top-p keeps the fewest largest values whose weights reach topP of the total', () => {
  const values = logitLike(151936, 33);
  const shift = maxOf(values);
  const sorted = sortedIndices(values);
  for (const temperature of [0.7, 1.3]) {
    const all = expWeights(values, shift, temperature);
    for (const topP of [0.001, 0.3, 0.9, 0.999]) {
      const { weights, total } = expWeights(values, shift, temperature, { topP });
      const kept = weights.reduce((count, w) => count + (w > 0 ? 1 : 0), 0);
      // the positive weights are those of the first `kept` values in sorted order, unchanged
      const prefix = sorted.slice(0, kept);
      for (const i of prefix) assert.equal(weights[i], all.weights[i], `T ${temperature}, top-p ${topP}: weight ${i}`);
      const mass = prefix.reduce((sum, i) => sum + all.weights[i]!, 0);
      const target = topP * all.total;
      assert.ok(
        mass >= target * (1 - 1e-6),
        `T ${temperature}, top-p ${topP}: ${kept} values hold ${mass}, short of ${target}`,
      );
      assert.ok(
        mass - all.weights[prefix.at(-1)!]! < target * (1 + 1e-6),
        `T ${temperature}, top-p ${topP}: ${kept} values are more than needed`,
      );
      assert.ok(Math.abs(total - mass) < 1e-6 * mass);
    }
  }
});

test('top-p splits values tied at the cut by index, and applies after the floor', () => {
  // weights 1, e^−0.1, e^−2, e^−0.1: half of the total is reached within the tie at 2.9, at index 1
  const values = new Float32Array([3, 2.9, 1, 2.9]);
  const kept = (options: { floor?: number; topP?: number }) =>
    [...expWeights(values, 3, 1, options).weights].map((w) => w > 0);
  assert.deepEqual(kept({ topP: 0.5 }), [true, true, false, false]);
  assert.deepEqual(kept({ topP: 0.8 }), [true, true, false, true]);
  // without index 2 (floored), 0.99 of the rest is all three
  assert.deepEqual(kept({ topP: 0.99, floor: 0.5 }), [true, true, false, true]);
  assert.deepEqual(kept({ topP: 0 }), [true, false, false, false]);
});

test('the kernels give pinned bits, so every machine samples alike', () => {
  const values = logitLike(151936, 77);
  const { weights } = expWeights(values, maxOf(values), 0.8);
  const digest = createHash('sha256').update(new Uint8Array(weights.buffer)).digest('hex');
  assert.equal(digest.slice(0, 16), '6de7f94ecb551c5e');
  assert.equal(logSumExp(values), 24.28991281584878);
});
