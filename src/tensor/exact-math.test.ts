import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expF32 } from './exact-math.ts';
import { silu } from './swiglu-reference.ts';

test("expF32 is within 1.2e-7 of the platform's exp over [-86, 0], 0 below, and keeps NaN", () => {
  for (let q = -86; q <= 0; q += 0.00731) {
    const ours = expF32(q);
    const reference = Math.exp(q);
    assert.ok(Math.abs(ours - reference) <= 1.2e-7 * reference, `expF32(${q}) = ${ours}, platform ${reference}`);
    assert.equal(Math.fround(ours), ours, `expF32(${q}) is an f32`);
  }
  assert.equal(expF32(0), 1);
  assert.equal(expF32(-0), 1);
  assert.equal(expF32(-86.01), 0);
  assert.equal(expF32(-Infinity), 0);
  assert.ok(Number.isNaN(expF32(NaN)));
});

test('silu is x·sigmoid(x) to f32 precision on both sides of 0, and saturates without overflow', () => {
  for (let x = -80; x <= 80; x += 0.0113) {
    const reference = x / (1 + Math.exp(-x));
    assert.ok(
      Math.abs(silu(x) - reference) <= 4e-7 * Math.abs(reference) + 1e-37,
      `silu(${x}) = ${silu(x)}, not ${reference}`,
    );
  }
  assert.equal(silu(0), 0);
  assert.ok(Object.is(silu(-0), -0));
  assert.equal(silu(200), 200);
  assert.equal(silu(Infinity), Infinity);
  assert.ok(Object.is(silu(-200), -0), 'e^-200 is below the floor: -200·0 / 1');
  assert.ok(Number.isNaN(silu(NaN)));
});
