import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computePayments } from './payouts.ts';
import type { UsageFlow } from '../chain/summary.ts';

const flow = (client: string, nodeId: string, tokens: number, fee: bigint): UsageFlow => ({
  client,
  nodeId,
  shares: 1,
  tokens,
  fees: BigInt(tokens) * fee,
});

test('each client pays the nodes its receipts name from its own balance, to the unit', () => {
  const flows = [
    flow('0xa', '0x1', 10, 7n),
    flow('0xa', '0x2', 5, 7n),
    flow('0xb', '0x2', 3, 7n),
    flow('0xz', '0x3', 1_000_000, 7n),
  ];
  const { payouts, debits } = computePayments(
    flows,
    new Map([
      ['0xa', 1_000n],
      ['0xb', 21n],
    ]),
    new Set(),
  );
  // 0xz deposited nothing: its receipts make no one's share worth anything.
  assert.deepEqual(payouts, [
    { node: '0x1', amount: 70n },
    { node: '0x2', amount: 35n + 21n },
  ]);
  assert.deepEqual(debits, [
    { client: '0xa', amount: 105n },
    { client: '0xb', amount: 21n },
  ]);
});

test('a client short of funds pays each of its flows the same fraction, rounded down; nobody else pays for it', () => {
  const flows = [flow('0xa', '0x1', 10, 10n), flow('0xa', '0x2', 20, 10n), flow('0xb', '0x1', 1, 10n)];
  const { payouts, debits } = computePayments(
    flows,
    new Map([
      ['0xa', 100n],
      ['0xb', 10n],
    ]),
    new Set(),
  );
  assert.deepEqual(payouts, [
    { node: '0x1', amount: 33n + 10n },
    { node: '0x2', amount: 66n },
  ]);
  assert.deepEqual(debits, [
    { client: '0xa', amount: 99n },
    { client: '0xb', amount: 10n },
  ]);
  const sum = (xs: { amount: bigint }[]) => xs.reduce((a, x) => a + x.amount, 0n);
  assert.equal(sum(payouts), sum(debits));
});

test('a withheld node is paid nothing and its clients are not debited for it', () => {
  const flows = [flow('0xa', '0x1', 10, 1n), flow('0xa', '0xbad', 10, 1n)];
  const { payouts, debits } = computePayments(flows, new Map([['0xa', 15n]]), new Set(['0xbad']));
  assert.deepEqual(payouts, [{ node: '0x1', amount: 10n }]);
  assert.deepEqual(debits, [{ client: '0xa', amount: 10n }]);
});
