import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bf16ToF32,
  bf16ToF32Array,
  f16BytesToF32,
  f16ToF32,
  f16ToF32Array,
  f32ToBf16,
  f32ToBf16Array,
  f32ToF16,
  f32ToF16Array,
  readF16,
} from './half.ts';

test('f16 widening of edge values', () => {
  assert.equal(f16ToF32(0x0000), 0);
  assert.ok(Object.is(f16ToF32(0x8000), -0));
  assert.equal(f16ToF32(0x3c00), 1);
  assert.equal(f16ToF32(0xc000), -2);
  assert.equal(f16ToF32(0x7bff), 65504);
  assert.equal(f16ToF32(0x0400), 2 ** -14);
  assert.equal(f16ToF32(0x0001), 2 ** -24);
  assert.equal(f16ToF32(0x03ff), 1023 * 2 ** -24);
  assert.equal(f16ToF32(0x3555), 0.333251953125);
  assert.equal(f16ToF32(0x7c00), Infinity);
  assert.equal(f16ToF32(0xfc00), -Infinity);
  assert.ok(Number.isNaN(f16ToF32(0x7e00)));
  assert.ok(Number.isNaN(f16ToF32(0xfc01)));
});

test('f16 narrowing rounds to nearest even', () => {
  assert.equal(f32ToF16(1), 0x3c00);
  assert.equal(f32ToF16(-0), 0x8000);
  assert.equal(f32ToF16(65504), 0x7bff);
  // Halfway between 65504 and 65536 rounds to even, which is infinity; just below stays finite.
  assert.equal(f32ToF16(65520), 0x7c00);
  assert.equal(f32ToF16(65519.99609375), 0x7bff);
  assert.equal(f32ToF16(1e6), 0x7c00);
  assert.equal(f32ToF16(-Infinity), 0xfc00);
  // 1 + 2^-11 is halfway between 1 and the next half (1 + 2^-10): ties go to the even mantissa.
  assert.equal(f32ToF16(1 + 2 ** -11), 0x3c00);
  assert.equal(f32ToF16(1 + 3 * 2 ** -11), 0x3c02);
  assert.equal(f32ToF16(1 + 2 ** -11 + 2 ** -20), 0x3c01);
  // Subnormals: 2^-25 is half of the smallest step (tie to 0), 3·2^-25 ties up to 2 steps.
  assert.equal(f32ToF16(2 ** -25), 0x0000);
  assert.equal(f32ToF16(3 * 2 ** -25), 0x0002);
  assert.equal(f32ToF16(2 ** -25 + 2 ** -35), 0x0001);
  assert.equal(f32ToF16(-5 * 2 ** -24), 0x8005);
  // The largest subnormal rounding up becomes the smallest normal.
  assert.equal(f32ToF16(2 ** -14 - 2 ** -26), 0x0400);
  assert.equal(f32ToF16(2 ** -30), 0x0000);
  const nan = f32ToF16(NaN);
  assert.equal(nan & 0x7c00, 0x7c00);
  assert.notEqual(nan & 0x3ff, 0);
});

test('every finite f16 survives a round trip', () => {
  for (let h = 0; h < 0x10000; h++) {
    if ((h & 0x7c00) === 0x7c00) continue;
    assert.equal(f32ToF16(f16ToF32(h)), h, `0x${h.toString(16)}`);
  }
});

test('bf16 conversions', () => {
  assert.equal(bf16ToF32(0x3f80), 1);
  assert.equal(bf16ToF32(0xc040), -3);
  assert.equal(bf16ToF32(0x0001), 2 ** -133);
  assert.equal(bf16ToF32(0x7f80), Infinity);
  assert.equal(f32ToBf16(1), 0x3f80);
  // 1 + 2^-8 is halfway between bf16 neighbours 1 and 1 + 2^-7: ties to even.
  assert.equal(f32ToBf16(1 + 2 ** -8), 0x3f80);
  assert.equal(f32ToBf16(1 + 3 * 2 ** -8), 0x3f82);
  assert.equal(f32ToBf16(1 + 2 ** -8 + 2 ** -20), 0x3f81);
  assert.equal(f32ToBf16(3.4028234663852886e38), 0x7f80);
  assert.equal(f32ToBf16(-Infinity), 0xff80);
  assert.equal(f32ToBf16(2 ** -133), 0x0001);
  const nan = f32ToBf16(NaN);
  assert.equal(nan & 0x7f80, 0x7f80);
  assert.notEqual(nan & 0x7f, 0);
});

test('bulk conversions agree with the scalar ones', () => {
  const values = new Float32Array([0, -0, 1, -1.5, 65504, 1e-7, -3e-5, 123.456, 1e30, -Infinity]);
  const halves = f32ToF16Array(values);
  const brains = f32ToBf16Array(values);
  for (let i = 0; i < values.length; i++) {
    assert.equal(halves[i], f32ToF16(values[i]!));
    assert.equal(brains[i], f32ToBf16(values[i]!));
  }
  const wide = f16ToF32Array(halves);
  const wideBf = bf16ToF32Array(brains);
  for (let i = 0; i < values.length; i++) {
    assert.ok(Object.is(wide[i], Math.fround(f16ToF32(halves[i]!))));
    assert.ok(Object.is(wideBf[i], bf16ToF32(brains[i]!)));
  }
  const bytes = new Uint8Array([0xff, 0x00, 0x3c, 0x00, 0xc0]);
  assert.deepEqual([...f16BytesToF32(bytes, 1, 2)], [1, -2]);
  assert.equal(readF16(bytes, 3), -2);
});
