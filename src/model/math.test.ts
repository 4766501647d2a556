import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exp, silu, softmax } from './math.ts';

test('exp agrees with the platform within 2 ulp over the range the engine uses', () => {
  for (let x = -100; x <= 80; x += 0.0137) {
    const ours = exp(x);
    const reference = Math.exp(x);
    assert.ok(Math.abs(ours - reference) <= 4.5e-16 * reference, `exp(${x}) = ${ours}, platform ${reference}`);
  }
  assert.equal(exp(0), 1);
  assert.equal(exp(-Infinity), 0);
  assert.equal(exp(Infinity), Infinity);
  assert.ok(Number.isNaN(exp(NaN)));
  assert.ok(exp(-740) > 0, 'subnormal results are reached');
});

test('silu and softmax', () => {
  assert.ok(Math.abs(silu(1) - 1 / (1 + Math.exp(-1))) < 1e-15);
  const values = new Float32Array([1, 2, 3, -Infinity]);
  softmax(values, 4);
  const total = values.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(total - 1) < 1e-6);
  assert.equal(values[3], 0);
  assert.ok(values[2]! > values[1]! && values[1]! > values[0]!);
});
