import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeSummary } from '../chain/summary.ts';
import { computePayouts, MAX_BONUS_BPS } from './payouts.ts';

const A = `0x${'a'.repeat(40)}`;
const B = `0x${'b'.repeat(40)}`;
const C = `0x${'c'.repeat(40)}`;
const summary = makeSummary(
  0,
  { fromHeight: 1, toHeight: 10 },
  'ff'.repeat(32),
  [
    { nodeId: A, shares: 3, weight: 3000, tokens: 30, fees: 0 },
    { nodeId: B, shares: 1, weight: 1000, tokens: 10, fees: 0 },
    { nodeId: C, shares: 6, weight: 6000, tokens: 60, fees: 0 },
  ],
  [],
);
const none = new Set<string>();

test('without a bonus the pool is shared pro rata of weight, rounded down', () => {
  assert.deepEqual(computePayouts(summary, { pool: 1001n, bonusBps: 0, fastest: [], banned: none }), [
    { node: A, amount: 300n },
    { node: B, amount: 100n },
    { node: C, amount: 600n },
  ]);
});

test('the bonus goes equally to the fastest nodes, and is bounded at 5 %', () => {
  assert.deepEqual(computePayouts(summary, { pool: 10_000n, bonusBps: 500, fastest: [B], banned: none }), [
    { node: A, amount: 2850n },
    { node: B, amount: 950n + 500n },
    { node: C, amount: 5700n },
  ]);
  // no winner: no bonus taken from the pool
  assert.deepEqual(
    computePayouts(summary, { pool: 10_000n, bonusBps: 500, fastest: [], banned: none }).map((p) => p.amount),
    [3000n, 1000n, 6000n],
  );
  assert.throws(
    () => computePayouts(summary, { pool: 1n, bonusBps: MAX_BONUS_BPS + 1, fastest: [], banned: none }),
    /bonusBps 501/,
  );
});

test('a banned node is paid nothing and its part stays in escrow; an empty pool pays nobody', () => {
  assert.deepEqual(computePayouts(summary, { pool: 10_000n, bonusBps: 500, fastest: [C], banned: new Set([C]) }), [
    { node: A, amount: 3000n },
    { node: B, amount: 1000n },
  ]);
  assert.deepEqual(computePayouts(summary, { pool: 0n, bonusBps: 0, fastest: [], banned: none }), []);
});
