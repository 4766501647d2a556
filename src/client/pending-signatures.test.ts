import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sha256 } from '../crypto/hash.ts';
import { generateKeyPair } from '../crypto/keys.ts';
import { commitmentFieldsOf, signCommitmentFields, stepIdOf } from '../protocol/commitment.ts';
import type { Commitment__Output } from '../proto/tessera/v1/Commitment.ts';
import { ResultRefusal } from './commitment-chain.ts';
import { joinSignatures, signedCommitments } from './pending-signatures.ts';
import { HopFailure } from './pipeline-session.ts';
import type { RouteHop } from './routing.ts';
import { SignatureChecker } from './signature-checker.ts';

const keys = [generateKeyPair(), generateKeyPair()];
/** Hop 0 runs shards 0–2, hop 1 shard 3. */
const route: RouteHop[] = keys.map((k, i) => ({
  nodeId: k.address,
  endpoint: `127.0.0.1:${7200 + i}`,
  shardIndex: i * 3,
  shardEnd: i * 3 + (i === 0 ? 3 : 1),
  tls: false,
}));
const checker = new SignatureChecker();
const check = (commitments: readonly Commitment__Output[]) => checker.check(commitments);

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
    signature: Buffer.alloc(0),
  }));
  const signatures = fields.map((f, i) => Buffer.from(signCommitmentFields(keys[i]!, f).signature));
  return { received, signatures: { step: number, signatures } };
}

async function refused(promise: Promise<unknown>, problem: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof HopFailure);
    assert.equal(error.kind, 'commitment');
    assert.equal(error.reason, ResultRefusal.COMMITMENT_UNSIGNED);
    // every hop checks the signatures below it before relaying: the first hop delivered them
    assert.equal(error.failedNodeId, route[0]!.nodeId);
    assert.match(error.message, problem);
    return true;
  });
}

test('the signatures that follow a result sign its commitments as received, each by the node it names', async () => {
  const { received, signatures } = step(3);
  const signed = await signedCommitments(received, signatures, route, 3, check);
  assert.deepEqual(
    signed.map((c) => c.signature),
    signatures.signatures,
  );
  assert.deepEqual(joinSignatures(received, signatures), signed);
  // the received commitments stay as they came
  assert.ok(received.every((c) => c.signature.length === 0));
});

test('a signature of other fields, of another node, or a missing one fails the step on the first hop', async () => {
  const { received, signatures } = step(3);
  const other = step(4).signatures.signatures;
  await refused(
    signedCommitments(received, { step: 3, signatures: [signatures.signatures[0]!, other[1]!] }, route, 3, check),
    new RegExp(`the commitment of node ${route[1]!.nodeId} \\(hop 1, shard 3\\) is not signed by it`),
  );
  await refused(
    signedCommitments(
      received,
      { step: 3, signatures: [signatures.signatures[1]!, signatures.signatures[1]!] },
      route,
      3,
      check,
    ),
    new RegExp(`the commitment of node ${route[0]!.nodeId} \\(hop 0, shards 0–2\\) is not signed by it`),
  );
  await refused(
    signedCommitments(received, { step: 3, signatures: signatures.signatures.slice(0, 1) }, route, 3, check),
    /1 signature\(s\) followed 2 commitment\(s\)/,
  );
});
