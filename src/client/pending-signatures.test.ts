import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sha256 } from '../crypto/hash.ts';
import { generateKeyPair, type KeyPair } from '../crypto/keys.ts';
import {
  commitmentFieldsOf,
  relayedHashOf,
  signCommitmentFields,
  stepIdOf,
  verifyCommitment,
  type CommitmentFields,
} from '../protocol/commitment.ts';
import type { Commitment__Output } from '../proto/tessera/v1/Commitment.ts';
import { ResultRefusal } from './commitment-chain.ts';
import { joinSignatures, signedCommitments } from './pending-signatures.ts';
import { HopFailure } from './pipeline-session.ts';
import type { RouteHop } from './routing.ts';
import { SignatureChecker } from './signature-checker.ts';

const keys = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
/** Hop 0 runs shards 0–2, hop 1 shard 3, hop 2 shard 4. */
const route: RouteHop[] = keys.map((k, i) => ({
  nodeId: k.address,
  endpoint: `127.0.0.1:${7200 + i}`,
  shardIndex: i === 0 ? 0 : i + 2,
  shardEnd: i + 3,
  tls: false,
}));
const checker = new SignatureChecker();
const check = (commitments: readonly Commitment__Output[]) => checker.check(commitments);

/** Signs as the route's nodes do: the last hop its fields, each relay its fields and the hash of the signatures below it. */
function signFromTheBottom(fields: readonly CommitmentFields[], signers: readonly KeyPair[] = keys): Buffer[] {
  const signatures: Buffer[] = [];
  for (let i = fields.length - 1; i >= 0; i--) {
    const relayed = i === fields.length - 1 ? {} : { relayedHash: relayedHashOf(signatures)! };
    signatures.unshift(Buffer.from(signCommitmentFields(signers[i]!, { ...fields[i]!, ...relayed }).signature));
  }
  return signatures;
}

/** A step's commitments as a result carries them (signatures empty) and the signatures that follow. */
function step(number: number) {
  const fields = keys.map((key, i) =>
    commitmentFieldsOf(key, {
      shardIndex: route[i]!.shardIndex,
      shardEnd: route[i]!.shardEnd,
      stepId: stepIdOf('session', number),
      inputHash: sha256(Buffer.from(`in ${i}`)),
      outputHash: sha256(Buffer.from(`out ${i}`)),
    }),
  );
  const received: Commitment__Output[] = fields.map((f) => ({
    ...f,
    stepId: Buffer.from(f.stepId),
    inputHash: Buffer.from(f.inputHash),
    outputHash: Buffer.from(f.outputHash),
    auditCommitment: Buffer.from(f.auditCommitment),
    resultHash: Buffer.alloc(0),
    relayedHash: Buffer.alloc(0),
    signature: Buffer.alloc(0),
  }));
  return { fields, received, signatures: { step: number, signatures: signFromTheBottom(fields) } };
}

async function refused(promise: Promise<unknown>, pinnedOn: number, problem: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof HopFailure);
    assert.equal(error.kind, 'commitment');
    assert.equal(error.reason, ResultRefusal.COMMITMENT_UNSIGNED);
    assert.equal(error.failedNodeId, route[pinnedOn]!.nodeId);
    assert.match(error.message, problem);
    return true;
  });
}

test("the signatures that follow a result sign its commitments as received, each relay's over the signatures below it", async () => {
  const { received, signatures } = step(3);
  const signed = await signedCommitments(received, signatures, route, 3, check);
  assert.deepEqual(
    signed.map((c) => c.signature),
    signatures.signatures,
  );
  assert.deepEqual(joinSignatures(received, signatures), signed);
  // each relay's commitment carries the hash its signature covers, as tickets and audit requests need it
  assert.deepEqual(signed[0]!.relayedHash, relayedHashOf(signatures.signatures.slice(1)));
  assert.deepEqual(signed[1]!.relayedHash, relayedHashOf(signatures.signatures.slice(2)));
  assert.equal(signed[2]!.relayedHash.length, 0);
  assert.ok(signed.every((c) => verifyCommitment(c)));
  // the received commitments stay as they came
  assert.ok(received.every((c) => c.signature.length === 0));
});

test('a signature that does not check is pinned on the hop above it, which signed for it; its own or a malformed one on the first hop', async () => {
  const { fields, received, signatures } = step(3);
  const other = step(4).signatures.signatures;
  // hop 1 signs for a signature of hop 2 over other fields: hop 1 vouched for it
  const withBadLast = [other[2]!];
  const hop1OverBad = Buffer.from(
    signCommitmentFields(keys[1]!, { ...fields[1]!, relayedHash: relayedHashOf(withBadLast)! }).signature,
  );
  const hop0OverBoth = Buffer.from(
    signCommitmentFields(keys[0]!, { ...fields[0]!, relayedHash: relayedHashOf([hop1OverBad, ...withBadLast])! })
      .signature,
  );
  await refused(
    signedCommitments(received, { step: 3, signatures: [hop0OverBoth, hop1OverBad, ...withBadLast] }, route, 3, check),
    1,
    new RegExp(
      `node ${route[1]!.nodeId} \\(hop 1, shard 3\\) signed for the signatures below it, and the commitment of node ${route[2]!.nodeId} \\(hop 2, shard 4\\) among them is not signed by it`,
    ),
  );
  // a signature of another node in hop 1's place: hop 0 signed for it
  const swapped = [signatures.signatures[2]!, signatures.signatures[2]!];
  const hop0OverSwapped = Buffer.from(
    signCommitmentFields(keys[0]!, { ...fields[0]!, relayedHash: relayedHashOf(swapped)! }).signature,
  );
  await refused(
    signedCommitments(received, { step: 3, signatures: [hop0OverSwapped, ...swapped] }, route, 3, check),
    0,
    new RegExp(`node ${route[0]!.nodeId} \\(hop 0, shards 0–2\\) signed for the signatures below it`),
  );
  // a relayed signature changed after the hop above it signed: that hop's own no longer checks
  await refused(
    signedCommitments(
      received,
      { step: 3, signatures: [signatures.signatures[0]!, signatures.signatures[1]!, other[2]!] },
      route,
      3,
      check,
    ),
    0,
    new RegExp(
      `the commitment of node ${route[0]!.nodeId} \\(hop 0, shards 0–2\\) is not signed by it over the signatures it relayed`,
    ),
  );
  // the first hop's own over other fields
  await refused(
    signedCommitments(
      received,
      { step: 3, signatures: [other[0]!, ...signatures.signatures.slice(1)] },
      route,
      3,
      check,
    ),
    0,
    new RegExp(`the commitment of node ${route[0]!.nodeId} \\(hop 0, shards 0–2\\) is not signed by it`),
  );
  await refused(
    signedCommitments(received, { step: 3, signatures: signatures.signatures.slice(0, 2) }, route, 3, check),
    0,
    /2 signature\(s\) followed 3 commitment\(s\)/,
  );
  await refused(
    signedCommitments(
      received,
      {
        step: 3,
        signatures: [signatures.signatures[0]!, signatures.signatures[1]!.subarray(0, 64), signatures.signatures[2]!],
      },
      route,
      3,
      check,
    ),
    0,
    new RegExp(`the signature of node ${route[1]!.nodeId} \\(hop 1, shard 3\\) has 64 bytes, not 65`),
  );
});
