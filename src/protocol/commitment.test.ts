import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '../crypto/keys.ts';
import { sha256 } from '../crypto/hash.ts';
import {
  commitmentDomainOf,
  commitmentFieldsOf,
  commitmentMessage,
  RELAY_COMMITMENT_DOMAIN,
  relayedHashOf,
  signCommitment,
  signCommitmentFields,
  stepIdOf,
  verifyCommitment,
  type SignedCommitment,
} from './commitment.ts';

const key = generateKeyPair();
const bytes = (fill: number, length = 32) => Buffer.alloc(length, fill);

function signed(auditCommitment?: Uint8Array): SignedCommitment {
  return signCommitment(key, {
    shardIndex: 3,
    shardEnd: 7,
    stepId: bytes(1),
    inputHash: bytes(2),
    outputHash: bytes(3),
    timestampMs: 1_700_000_000_123,
    ...(auditCommitment ? { auditCommitment } : {}),
  });
}

test('a commitment signs its fields in a fixed layout: node, span, step, input, output, time, then the audit commitment or nothing', () => {
  for (const auditCommitment of [undefined, bytes(4)]) {
    const c = signed(auditCommitment);
    const message = Buffer.from(commitmentMessage(c));
    assert.equal(message.length, auditCommitment ? 164 : 132);
    assert.equal(`0x${message.subarray(0, 20).toString('hex')}`, key.address);
    assert.equal(message.readUInt32BE(20), 3);
    assert.equal(message.readUInt32BE(24), 7);
    assert.deepEqual(
      [28, 60, 92].map((at) => message.subarray(at, at + 32)),
      [bytes(1), bytes(2), bytes(3)],
    );
    assert.equal(message.readBigUInt64BE(124), 1_700_000_000_123n);
    assert.deepEqual(message.subarray(132), auditCommitment ?? Buffer.alloc(0));
    assert.equal(verifyCommitment(c), true);
  }
});

test("a relay's commitment signs the hash of the signatures it relays in the result hash's place, under its own domain", () => {
  const below = [bytes(7, 65), bytes(8, 65)];
  const relayedHash = relayedHashOf(below)!;
  assert.deepEqual(relayedHash, sha256(Buffer.concat(below)));
  for (const auditCommitment of [undefined, bytes(4)]) {
    const plain = signed(auditCommitment);
    const relay = signCommitmentFields(key, { ...plain, relayedHash });
    const message = Buffer.from(commitmentMessage(relay));
    assert.equal(message.length, auditCommitment ? 196 : 164);
    assert.deepEqual(message.subarray(0, message.length - 32), Buffer.from(commitmentMessage(plain)));
    assert.deepEqual(message.subarray(message.length - 32), relayedHash);
    assert.equal(commitmentDomainOf(relay), RELAY_COMMITMENT_DOMAIN);
    assert.ok(verifyCommitment(relay));
    // the signature answers for exactly those signatures, and only under the relay's domain
    assert.equal(verifyCommitment({ ...relay, relayedHash: relayedHashOf([below[1]!, below[0]!])! }), false);
    assert.equal(verifyCommitment({ ...relay, relayedHash: Buffer.alloc(0) }), false);
    assert.equal(verifyCommitment({ ...relay, resultHash: relayedHash, relayedHash: Buffer.alloc(0) }), false);
  }
  // a commitment covers a result or what it relayed, never both
  const both = { ...signed(), resultHash: bytes(5), relayedHash };
  assert.throws(() => commitmentMessage(both), /a result or relayed signatures, not both/);
  const { relayedHash: _relayed, ...resultOnly } = both;
  assert.equal(verifyCommitment({ ...both, signature: signCommitmentFields(key, resultOnly).signature }), false);
  // signatures that are not 65 bytes each have no relayed hash: another split of the same bytes would share it
  assert.equal(relayedHashOf([bytes(7, 64), bytes(8, 66)]), undefined);
  assert.deepEqual(relayedHashOf([]), sha256(Buffer.alloc(0)));
});

test('a commitment with any field changed no longer verifies', () => {
  const c = signed(bytes(4));
  const changed: SignedCommitment[] = [
    { ...c, nodeId: generateKeyPair().address },
    { ...c, shardIndex: 4 },
    { ...c, shardEnd: 6 },
    { ...c, stepId: bytes(9) },
    { ...c, inputHash: bytes(9) },
    { ...c, outputHash: bytes(9) },
    { ...c, timestampMs: c.timestampMs + 1 },
    { ...c, auditCommitment: bytes(9) },
    { ...c, auditCommitment: Buffer.alloc(0) },
  ];
  for (const other of changed) assert.equal(verifyCommitment(other), false);
});

test('a commitment whose fields do not fit the layout is refused, not thrown on', () => {
  const c = signed();
  const malformed: SignedCommitment[] = [
    { ...c, stepId: bytes(1, 31) },
    { ...c, outputHash: bytes(3, 33) },
    { ...c, auditCommitment: bytes(4, 16) },
    { ...c, timestampMs: -1 },
    { ...c, timestampMs: 2 ** 64 },
    { ...c, shardIndex: -1 },
    { ...c, shardEnd: 3 },
    { ...c, shardEnd: 2 },
    { ...c, shardEnd: 2 ** 32 },
    { ...c, nodeId: key.address.toUpperCase() },
    { ...c, nodeId: 'node-1' },
  ];
  for (const bad of malformed) assert.equal(verifyCommitment(bad), false);
  assert.throws(() => commitmentMessage({ ...c, stepId: bytes(1, 31) }), /stepId has 31 bytes, not 32/);
});

test('fields made first and signed later sign the same as signing at once, stamped when they were made', () => {
  const own = {
    shardIndex: 2,
    shardEnd: 3,
    stepId: stepIdOf('s', 9),
    inputHash: sha256(Buffer.from('in')),
    outputHash: sha256(Buffer.from('out')),
    timestampMs: 1_700_000_000_000,
  };
  const fields = commitmentFieldsOf(key, own);
  assert.equal(fields.nodeId, key.address);
  assert.equal(fields.auditCommitment.length, 0);
  const later = signCommitmentFields(key, fields);
  assert.deepEqual(later, signCommitment(key, own));
  assert.ok(verifyCommitment(later));
  const { timestampMs: _dated, ...undated } = own;
  const before = Date.now();
  const stamped = commitmentFieldsOf(key, undated);
  assert.ok(stamped.timestampMs >= before && stamped.timestampMs <= Date.now());
});
