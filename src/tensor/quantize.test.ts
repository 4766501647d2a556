import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dequantize } from './dequantize.ts';
import { BLOCK_LAYOUT, GgmlType } from './ggml-type.ts';
import { quantize } from './quantize.ts';
import { randomValues } from '../../test/support/tensor-data.ts';

function roundTrip(type: GgmlType, values: Float32Array): Float32Array {
  return dequantize(type, quantize(type, values), values.length);
}

/** Largest |error| in each block, divided by the block's largest |value|. */
function worstBlockError(type: GgmlType, values: Float32Array): number {
  const back = roundTrip(type, values);
  const n = BLOCK_LAYOUT[type].elements;
  let worst = 0;
  for (let b = 0; b < values.length; b += n) {
    let amax = 0,
      err = 0;
    for (let i = b; i < b + n; i++) {
      amax = Math.max(amax, Math.abs(values[i]!));
      err = Math.max(err, Math.abs(values[i]! - back[i]!));
    }
    worst = Math.max(worst, err / amax);
  }
  return worst;
}

function relativeRmsError(type: GgmlType, values: Float32Array): number {
  const back = roundTrip(type, values);
  let err = 0,
    norm = 0;
  for (let i = 0; i < values.length; i++) {
    err += (values[i]! - back[i]!) ** 2;
    norm += values[i]! ** 2;
  }
  return Math.sqrt(err / norm);
}

const values = randomValues(4864 * 4, 7);

test('float types round trip', () => {
  assert.deepEqual(roundTrip(GgmlType.F32, values), values);
  // f16 keeps 11 significant bits down to 2^-14 and then steps of 2^-24; bf16 keeps 8 bits.
  const half = roundTrip(GgmlType.F16, values);
  const brain = roundTrip(GgmlType.BF16, values);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    assert.ok(Math.abs(half[i]! - v) <= Math.abs(v) * 2 ** -11 + 2 ** -25, `f16 ${v}`);
    assert.ok(Math.abs(brain[i]! - v) <= Math.abs(v) * 2 ** -8, `bf16 ${v}`);
  }
});

test('Q8_0 error is at most half a step (amax/127) plus the f16 rounding of the scale', () => {
  // Half a step is 0.5/127 of amax; the stored f16 scale is off by ≤ 2^-11 relative, times ≤ 127 steps.
  assert.ok(worstBlockError(GgmlType.Q8_0, values) <= (0.5 + 127 * 2 ** -11) / 127);
  assert.ok(relativeRmsError(GgmlType.Q8_0, values) < 0.01);
});

test('Q4_0 error is at most one step (amax/8) plus the f16 rounding of the scale', () => {
  // The value of largest magnitude maps to -8; one of the opposite sign can clip from 8 to 7.
  assert.ok(worstBlockError(GgmlType.Q4_0, values) <= (1 + 8 * 2 ** -11) / 8);
  assert.ok(relativeRmsError(GgmlType.Q4_0, values) < 0.12);
});

test('Q4_K and Q6_K round trips stay within their step sizes', () => {
  // Q4_K: 15 steps span a sub-block's range (≤ 2·amax), rounding costs half a step, and the scale
  // rounds up by at most one 6-bit unit.
  assert.ok(worstBlockError(GgmlType.Q4_K, values) <= 0.5 * (2 / 15) * 1.1);
  assert.ok(relativeRmsError(GgmlType.Q4_K, values) < 0.12);
  // Q6_K: a step is amax/32; like Q4_0 a value opposite in sign to the extreme can clip by one
  // step, and the int8 scale and f16 super-scale add a little.
  assert.ok(worstBlockError(GgmlType.Q6_K, values) <= (1 / 32) * 1.1);
  assert.ok(relativeRmsError(GgmlType.Q6_K, values) < 0.03);
});

test('zero blocks quantize to exact zeros', () => {
  const zeros = new Float32Array(256);
  for (const type of [GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K]) {
    assert.ok(
      roundTrip(type, zeros).every((v) => v === 0),
      `type ${type}`,
    );
  }
});

test('Q8_0 and Q4_0 bytes of a hand-made block', () => {
  const block = new Float32Array(32);
  block[0] = 15.875; // amax = 127/8: the Q8_0 step is exactly 1/8
  block[1] = -7.9375; // -63.5 steps round away from zero to -64
  block[2] = 0.05; // 0.4 of a step rounds to 0
  block[3] = 0.1875; // 1.5 steps round away from zero to 2
  const q8 = quantize(GgmlType.Q8_0, block);
  // d = 0.125 is f16 0x3000.
  assert.deepEqual([...q8.subarray(0, 6)], [0x00, 0x30, 127, 256 - 64, 0, 2]);
  const q4 = quantize(GgmlType.Q4_0, block);
  // d = 15.875 / -8 = -1.984375 is f16 0xbff0. Element 0 -> 8 - 8 = 0, element 1 -> 8 + 4 = 12,
  // elements 16 and 17 (zero) -> 8, packed into the high nibbles.
  assert.deepEqual([...q4.subarray(0, 4)], [0xf0, 0xbf, 0x80, 0x8c]);
});
