import { createHash } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keyPairFromSecret } from '../crypto/keys.ts';
import { signCommitment, stepIdOf, verifyCommitment } from './commitment.ts';
import { auditCommitmentOf, auditDraw, auditThreshold, detectionProbability, isAudited } from './audit-selection.ts';

const secret = Buffer.alloc(32, 7);
const node = keyPairFromSecret(Buffer.alloc(32, 1));

/** The node's commitment to step `step` of `session` on shards [shardIndex, shardEnd), at a fixed time: the same signature each run. */
function committed(
  session: string,
  step: number,
  shardIndex = 0,
  timestampMs = 1_700_000_000_000,
  shardEnd = shardIndex + 1,
) {
  return signCommitment(node, {
    shardIndex,
    shardEnd,
    stepId: stepIdOf(session, step),
    inputHash: Buffer.alloc(32, 2),
    outputHash: Buffer.alloc(32, 3),
    timestampMs,
    auditCommitment: auditCommitmentOf(secret),
  });
}

/** The same signature with s flipped to n − s (and the recovery bit): it recovers the same signer. */
function malleated(signature: Uint8Array): Buffer {
  const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const out = Buffer.from(signature);
  const s = BigInt(`0x${out.toString('hex', 32, 64)}`);
  Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex').copy(out, 32);
  out[64] = out[64]! ^ 1;
  return out;
}

test('the threshold is rate · 2^256: nothing at 0, everything at 1, exactly 2^252 at 1/16', () => {
  assert.equal(auditThreshold(0), 0n);
  assert.equal(auditThreshold(1), 1n << 256n);
  assert.equal(auditThreshold(1 / 16), 1n << 252n);
  assert.throws(() => auditThreshold(1.5), /sampling rate must be a fraction from 0 to 1, got 1.5/);
  assert.throws(() => auditThreshold(Number.NaN), /got NaN/);
  const step = committed('session', 0);
  assert.equal(isAudited(secret, step, 0), false);
  assert.equal(isAudited(secret, step, 1), true);
});

test("draws depend on the secret, the step, the span and the node's signature, and select about the rate", () => {
  const step = committed('session', 3);
  assert.notEqual(auditDraw(secret, step), auditDraw(secret, { ...step, shardIndex: 1, shardEnd: 2 }));
  // The same first shard, a longer span: another draw.
  assert.notEqual(auditDraw(secret, step), auditDraw(secret, { ...step, shardEnd: 4 }));
  assert.notEqual(auditDraw(secret, step), auditDraw(Buffer.alloc(32, 8), step));
  assert.notEqual(auditDraw(secret, step), auditDraw(secret, { ...step, stepId: stepIdOf('session', 4) }));
  // The same step committed a millisecond later: another signature, another draw.
  const later = committed('session', 3, 0, 1_700_000_000_001);
  assert.deepEqual(later.stepId, step.stepId);
  assert.notEqual(auditDraw(secret, step), auditDraw(secret, later));
  let selected = 0;
  const n = 4000;
  for (let i = 0; i < n; i++)
    if (isAudited(secret, committed('session', i, i % 4, 1_700_000_000_000, 4 + (i % 3)), 0.05)) selected++;
  // 5 % of 4000 is 200, with a standard deviation of about 14: six of them either side.
  assert.ok(selected > 116 && selected < 284, `${selected} of ${n} selected`);
});

test("the other encoding of the node's signature (s flipped to n − s) is refused, and would draw the same", () => {
  for (let i = 0; i < 8; i++) {
    const step = committed('session', i);
    const other = { ...step, signature: malleated(step.signature) };
    assert.ok(verifyCommitment(step));
    assert.equal(verifyCommitment(other), false, 'only the low-s signature is taken');
    assert.notDeepEqual(other.signature, step.signature);
    assert.equal(auditDraw(secret, other), auditDraw(secret, step));
  }
  assert.throws(
    () => auditDraw(secret, { ...committed('session', 0), signature: Buffer.alloc(64) }),
    /^RangeError: the commitment's signature has 64 bytes, not 65$/,
  );
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

test("the draw hashes the secret, the step id, the span's start and end (u32 big-endian each) and the signature's r || s", () => {
  const step = committed('session', 5, 1, 1_700_000_000_000, 4);
  const span = Buffer.from([0, 0, 0, 1, 0, 0, 0, 4]);
  const expected = createHash('sha256')
    .update(secret)
    .update(step.stepId)
    .update(span)
    .update(step.signature.subarray(0, 64))
    .digest('hex');
  // A signature from signCommitment is low-s already: r || s is its first 64 bytes.
  assert.equal(auditDraw(secret, step), BigInt(`0x${expected}`));
});
