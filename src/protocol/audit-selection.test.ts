import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stepIdOf } from './commitment.ts';
import { auditCommitmentOf, auditDraw, auditThreshold, detectionProbability, isAudited } from './audit-selection.ts';

const secret = Buffer.alloc(32, 7);

test('the threshold is rate · 2^256: nothing at 0, everything at 1, exactly 2^252 at 1/16', () => {
  assert.equal(auditThreshold(0), 0n);
  assert.equal(auditThreshold(1), 1n << 256n);
  assert.equal(auditThreshold(1 / 16), 1n << 252n);
  assert.throws(() => auditThreshold(1.5), /sampling rate must be a fraction from 0 to 1, got 1.5/);
  assert.throws(() => auditThreshold(Number.NaN), /got NaN/);
  const stepId = stepIdOf('session', 0);
  assert.equal(isAudited(secret, stepId, 0, 0), false);
  assert.equal(isAudited(secret, stepId, 0, 1), true);
});

test('draws depend on the secret, the step and the shard, and select about the rate', () => {
  const stepId = stepIdOf('session', 3);
  assert.notEqual(auditDraw(secret, stepId, 0), auditDraw(secret, stepId, 1));
  assert.notEqual(auditDraw(secret, stepId, 0), auditDraw(Buffer.alloc(32, 8), stepId, 0));
  assert.notEqual(auditDraw(secret, stepId, 0), auditDraw(secret, stepIdOf('session', 4), 0));
  let selected = 0;
  const n = 20_000;
  for (let step = 0; step < n; step++) if (isAudited(secret, stepIdOf('session', step), step % 4, 0.05)) selected++;
  // 5 % of 20 000 is 1000, with a standard deviation of about 31: five of them either side.
  assert.ok(selected > 845 && selected < 1155, `${selected} of ${n} selected`);
});

test('the audit commitment is sha256 of the secret, and the detection bound is 1 − (1 − p)^k', () => {
  assert.equal(
    auditCommitmentOf(Buffer.from('abc')).toString('hex'),
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  );
  assert.equal(detectionProbability(0.05, 0), 0);
  assert.ok(Math.abs(detectionProbability(0.05, 20) - (1 - 0.95 ** 20)) < 1e-15);
  assert.ok(detectionProbability(0.05, 300) > 0.9999997);
});
