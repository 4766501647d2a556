import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_BASE_FEE, nextBaseFee } from './fee.ts';
import { DEFAULT_CHAIN_PARAMS, slotOf } from './params.ts';

const params = { ...DEFAULT_CHAIN_PARAMS, maxSharesPerBlock: 100, initialBaseFee: 1000, minBaseFee: 8 };

test('the base fee moves by exactly 1/8 at the extremes and stays at the target', () => {
  assert.equal(nextBaseFee(params, 1000, 50), 1000);
  assert.equal(nextBaseFee(params, 1000, 100), 1125);
  assert.equal(nextBaseFee(params, 1000, 0), 875);
  assert.equal(nextBaseFee(params, 1000, 75), 1062);
  // A full block always raises the fee, even where 1/8 rounds to nothing.
  assert.equal(nextBaseFee(params, 8, 51), 9);
  assert.equal(nextBaseFee(params, 8, 0), 8, 'never below the minimum');
  assert.equal(nextBaseFee(params, MAX_BASE_FEE, 100), MAX_BASE_FEE, 'never above the ceiling');
});

test('from any fee and fullness the fee moves at most 1/8 per block', () => {
  let fee = params.initialBaseFee;
  for (let block = 0; block < 2000; block++) {
    const shares = (block * 37) % (params.maxSharesPerBlock + 1);
    const next = nextBaseFee(params, fee, shares);
    assert.ok(Math.abs(next - fee) <= Math.max(1, fee / 8), `block ${block}: ${fee} -> ${next} with ${shares} shares`);
    assert.ok(shares > 50 ? next > fee : shares < 50 ? next <= fee : next === fee);
    fee = next;
  }
});

test('a moment falls in the slot of its block interval', () => {
  assert.equal(slotOf(25_000, { ...params, blockIntervalMs: 10_000 }), 2);
});
