import { sha256 } from '../crypto/hash.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { deflateSync } from 'node:zlib';
import { generateKeyPair } from '../crypto/keys.ts';
import type { Manifest } from '../model/manifest.ts';
import { tessera } from '../proto/services.ts';
import type { Ticket, Ticket__Output } from '../proto/tessera/v1/Ticket.ts';
import { f32ToF16Array } from '../tensor/half.ts';
import { spanSha256 } from '../model/shards/span.ts';
import { signTicket, ticketSigner } from './ticket-signature.ts';
import { signCommitment, stepIdOf, tokenBytes } from './commitment.ts';
import { ticketForwardInput } from '../audit/recompute.ts';
import {
  checkFraudProofSignature,
  commitmentFromJson,
  commitmentToJson,
  newNonce,
  openRequest,
  signFraudProof,
  signRequest,
} from './audit-statements.ts';
import {
  AuditError,
  checkTicketAgainstManifest,
  encodeTicket,
  openTicket,
  ticketIdOf,
  type TicketInputBytes,
} from './ticket.ts';

const node = generateKeyPair();
const SHA = 'ab'.repeat(32);

async function ticketFor(
  input: TicketInputBytes,
  shardIndex = input.tokens ? 0 : 1,
  shardEnd = shardIndex + 1,
): Promise<Ticket__Output> {
  const commitment = signCommitment(node, {
    shardIndex,
    shardEnd,
    stepId: stepIdOf('s', 0),
    inputHash: sha256(input.bytes),
    outputHash: sha256(Buffer.from('out')),
  });
  return asOutput(
    await encodeTicket({
      modelId: 'm',
      shardIndex,
      shardEnd,
      shardSha256: SHA,
      engineVersion: 'e/1',
      input,
      startPosition: 0,
      commitment,
    }),
  );
}

/** What the receiving side sees: through protobuf and back, every field present. */
function asOutput(t: Ticket): Ticket__Output {
  const codec = tessera.v1.Audit.service.SubmitTicket;
  return codec.requestDeserialize(codec.requestSerialize(t)) as Ticket__Output;
}

function refused(code: status, pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof AuditError, String(error));
    assert.equal(error.grpcStatus, code, error.message);
    assert.match(error.code, /^[A-Z_]+$/);
    assert.match(error.message, pattern);
    return true;
  };
}

test('a ticket carries its input compressed and opens to the exact bytes its commitment hashed', async () => {
  const tokens = [1, 2, 3, 70000];
  const opened = await openTicket(await ticketFor({ tokens: true, positions: 4, bytes: tokenBytes(tokens) }), 1 << 20);
  assert.deepEqual(ticketForwardInput(opened.input), { tokens });
  assert.equal(opened.ticketId, ticketIdOf(opened.commitment));

  const values = Float32Array.from({ length: 3 * 8 }, (_, i) => Math.sin(i));
  const halves = f32ToF16Array(values);
  const hidden = {
    tokens: false as const,
    dtype: 'DTYPE_F16' as const,
    positions: 3,
    width: 8,
    bytes: new Uint8Array(halves.buffer),
  };
  const wire = await ticketFor(hidden);
  assert.equal(wire.input!.compression, 'COMPRESSION_DEFLATE');
  const back = await openTicket(wire, 1 << 20);
  assert.deepEqual(Buffer.from(back.input.bytes), Buffer.from(hidden.bytes));
  const decoded = ticketForwardInput(back.input) as { hidden: Float32Array };
  assert.ok(decoded.hidden.every((v, i) => Math.abs(v - values[i]!) < 1e-3));
});

test('forged or malformed tickets are refused with the status that names the fault', async () => {
  const good = await ticketFor({ tokens: true, positions: 2, bytes: tokenBytes([5, 6]) });
  const variant = (change: (t: Ticket__Output) => void) => {
    const t = structuredClone(good);
    change(t);
    return t;
  };
  await assert.rejects(
    openTicket(
      variant(
        (t) =>
          (t.commitment!.signature = Buffer.from(
            signCommitment(generateKeyPair(), {
              shardIndex: 0,
              shardEnd: 1,
              stepId: t.commitment!.stepId,
              inputHash: t.commitment!.inputHash,
              outputHash: t.commitment!.outputHash,
            }).signature,
          )),
      ),
      1 << 20,
    ),
    refused(status.UNAUTHENTICATED, /the ticket's commitment is not signed by node 0x/),
  );
  await assert.rejects(
    openTicket(
      variant((t) => (t.input!.data = deflateSync(tokenBytes([5, 7])))),
      1 << 20,
    ),
    refused(
      status.INVALID_ARGUMENT,
      /ticket input hashes to [0-9a-f]{64}, the commitment's input hash is [0-9a-f]{64}: it is not the input committed to/,
    ),
  );
  await assert.rejects(
    openTicket(
      variant((t) => (t.startPosition = 4)),
      1 << 20,
    ),
    refused(status.INVALID_ARGUMENT, /starts at position 4; only steps from position 0 are audited/),
  );
  await assert.rejects(
    openTicket(
      variant((t) => (t.shardIndex = 1)),
      1 << 20,
    ),
    refused(status.INVALID_ARGUMENT, /ticket is for shards \[1, 1\), which is no span, its commitment for shard 0/),
  );
  await assert.rejects(
    openTicket(
      variant((t) => (t.shardEnd = 3)),
      1 << 20,
    ),
    (error: unknown) =>
      refused(
        status.INVALID_ARGUMENT,
        /ticket is for shards 0–2, its commitment for shard 0: a ticket recomputes exactly the span its node signed/,
      )(error) && (error as AuditError).code === 'TICKET_SPAN_MISMATCH',
  );
  await assert.rejects(
    openTicket(
      variant((t) => (t.commitment!.shardEnd = 0)),
      1 << 20,
    ),
    refused(status.INVALID_ARGUMENT, /malformed the ticket's commitment: shardEnd 0 is not past shardIndex 0/),
  );
  await assert.rejects(
    openTicket(
      variant((t) => (t.input!.data = deflateSync(Buffer.alloc(4096)))),
      1 << 20,
    ),
    refused(status.INVALID_ARGUMENT, /does not inflate to 8 bytes/),
  );
  await assert.rejects(
    openTicket(
      variant((t) => (t.input!.data = Buffer.from('not deflate'))),
      1 << 20,
    ),
    refused(status.INVALID_ARGUMENT, /does not inflate/),
  );
  await assert.rejects(
    openTicket(
      variant((t) => (t.positions = 1_000_000)),
      1 << 20,
    ),
    refused(status.INVALID_ARGUMENT, /token input must have no dtype and shape \[1000000\]/),
  );
  await assert.rejects(
    openTicket(good, 4),
    refused(status.RESOURCE_EXHAUSTED, /ticket input of 8 bytes exceeds the limit of 4/),
  );
  await assert.rejects(
    openTicket(
      variant((t) => (t.commitment!.stepId = Buffer.alloc(3))),
      1 << 20,
    ),
    refused(status.INVALID_ARGUMENT, /malformed the ticket's commitment: stepId has 3 bytes, not 32/),
  );
});

test("a ticket must fit the manifest: a span of its shards, the span's weights hash, kind of input, hidden size, token ids", async () => {
  const manifest = {
    modelId: 'm',
    config: { hiddenSize: 8, contextLength: 64, vocabSize: 100 },
    shards: [
      { index: 0, embedding: true, sha256: SHA },
      { index: 1, embedding: false, sha256: 'cd'.repeat(32) },
      { index: 2, embedding: false, sha256: 'ef'.repeat(32) },
    ],
  } as unknown as Manifest;
  const tokens = await openTicket(await ticketFor({ tokens: true, positions: 1, bytes: tokenBytes([1]) }), 1 << 20);
  checkTicketAgainstManifest(tokens, manifest);
  const outOfVocabulary = await openTicket(
    await ticketFor({ tokens: true, positions: 2, bytes: tokenBytes([99, 100]) }),
    1 << 20,
  );
  assert.throws(
    () => checkTicketAgainstManifest(outOfVocabulary, manifest),
    refused(status.INVALID_ARGUMENT, /token id 100, beyond the vocabulary of 100/),
  );
  const hidden = await openTicket(
    await ticketFor({ tokens: false, dtype: 'DTYPE_F32', positions: 1, width: 4, bytes: new Uint8Array(16) }),
    1 << 20,
  );
  assert.throws(
    () => checkTicketAgainstManifest(hidden, manifest),
    refused(status.INVALID_ARGUMENT, /ticket names weights with SHA-256 abab.*; shard 1 of "m" has cdcd/),
  );
  assert.throws(
    () => checkTicketAgainstManifest({ ...hidden, shardSha256: 'cd'.repeat(32) }, manifest),
    refused(status.INVALID_ARGUMENT, /hidden size 4, shard 1 expects 8/),
  );
  assert.throws(
    () => checkTicketAgainstManifest({ ...hidden, shardIndex: 5, shardEnd: 6 }, manifest),
    refused(status.INVALID_ARGUMENT, /the ticket's span is not of "m": shards \[5, 6\) reach past m's 3 shards/),
  );
  assert.throws(
    () => checkTicketAgainstManifest({ ...hidden, shardEnd: 4 }, manifest),
    refused(status.INVALID_ARGUMENT, /shards \[1, 4\) reach past m's 3 shards/),
  );
  // A span of two shards is named by the hash of its files' hashes, not by either file's.
  const span = { ...hidden, shardIndex: 1, shardEnd: 3, input: { ...hidden.input, width: 8 } };
  const spanHash = spanSha256(manifest, { start: 1, end: 3 });
  assert.notEqual(spanHash, 'cd'.repeat(32));
  assert.throws(
    () => checkTicketAgainstManifest({ ...span, shardSha256: 'cd'.repeat(32) }, manifest),
    refused(status.INVALID_ARGUMENT, new RegExp(`SHA-256 cdcd.*; shards 1–2 of "m" have ${spanHash}`)),
  );
  checkTicketAgainstManifest({ ...span, shardSha256: spanHash }, manifest);
  // A span from shard 0 takes token ids, whatever its length; any other takes hidden states.
  checkTicketAgainstManifest(
    { ...tokens, shardEnd: 2, shardSha256: spanSha256(manifest, { start: 0, end: 2 }) },
    manifest,
  );
  assert.throws(
    () =>
      checkTicketAgainstManifest(
        { ...span, shardIndex: 0, shardSha256: spanSha256(manifest, { start: 0, end: 3 }) },
        manifest,
      ),
    refused(status.INVALID_ARGUMENT, /shards 0–2 takes token ids, the ticket holds hidden states/),
  );
});

test('signed requests open only under their own kind and signer; fraud proofs bind the ticket', async () => {
  const verifier = generateKeyPair();
  const pull = {
    kind: 'pull-tickets' as const,
    verifierId: verifier.address,
    engineVersion: 'e/1',
    shards: [{ modelId: 'm', shardIndex: 0, shardSha256: SHA }],
    max: 4,
    timestampMs: 1,
    nonce: newNonce(),
  };
  const signed = signRequest(verifier, pull);
  assert.deepEqual(openRequest('pull-tickets', signed), pull);
  assert.throws(
    () => openRequest('complete-tickets', signed),
    refused(status.INVALID_ARGUMENT, /expected a complete-tickets, got "pull-tickets"/),
  );
  const other = generateKeyPair();
  assert.throws(
    () =>
      openRequest('pull-tickets', {
        payload: signed.payload,
        signature: signRequest(other, { ...pull, verifierId: other.address }).signature,
      }),
    refused(status.UNAUTHENTICATED, new RegExp(`pull-tickets is signed by 0x[0-9a-f]{40}, not by ${verifier.address}`)),
  );
  assert.throws(() => signRequest(other, pull), /cannot be signed by/);

  const commitment = signCommitment(node, {
    shardIndex: 0,
    shardEnd: 2,
    stepId: stepIdOf('s', 1),
    inputHash: sha256(Buffer.from('i')),
    outputHash: sha256(Buffer.from('o')),
  });
  assert.deepEqual(commitmentFromJson(commitmentToJson(commitment)), {
    ...commitment,
    stepId: Buffer.from(commitment.stepId),
    inputHash: Buffer.from(commitment.inputHash),
    outputHash: Buffer.from(commitment.outputHash),
    signature: Buffer.from(commitment.signature),
  });

  const wire = await ticketFor({ tokens: true, positions: 1, bytes: tokenBytes([9]) });
  const ticket = await openTicket(wire, 1 << 20);
  const recomputed = sha256(Buffer.from('other'));
  const proof = signFraudProof(verifier, wire, ticket, recomputed, 1234);
  checkFraudProofSignature(ticket, recomputed, verifier.address, 1234, proof.signature as Uint8Array);
  assert.throws(
    () =>
      checkFraudProofSignature(
        ticket,
        sha256(Buffer.from('else')),
        verifier.address,
        1234,
        proof.signature as Uint8Array,
      ),
    refused(status.UNAUTHENTICATED, /not by verifier/),
  );
  assert.throws(
    () =>
      checkFraudProofSignature(
        { ...ticket, shardSha256: 'cd'.repeat(32) },
        recomputed,
        verifier.address,
        1234,
        proof.signature as Uint8Array,
      ),
    refused(status.UNAUTHENTICATED, /not by verifier/),
  );
  // The span recomputed is part of what the verifier signs.
  assert.throws(
    () =>
      checkFraudProofSignature(
        { ...ticket, shardEnd: ticket.shardEnd + 1 },
        recomputed,
        verifier.address,
        1234,
        proof.signature as Uint8Array,
      ),
    refused(status.UNAUTHENTICATED, /not by verifier/),
  );
});

test("a ticket's signature covers its span, and an audit request's commitment must name a span", async () => {
  const wire = await ticketFor(
    { tokens: false, dtype: 'DTYPE_F32', positions: 1, width: 2, bytes: new Uint8Array(8) },
    1,
    4,
  );
  const opened = await openTicket(wire, 1 << 20);
  const secret = Buffer.alloc(32, 9);
  const signed = signTicket(node, wire, opened.commitment, secret);
  const fields = { ...opened, auditSecret: secret };
  assert.equal(ticketSigner(fields, signed.signature as Uint8Array), node.address);
  assert.notEqual(ticketSigner({ ...fields, shardEnd: 2 }, signed.signature as Uint8Array), node.address);
  assert.notEqual(ticketSigner({ ...fields, shardIndex: 2 }, signed.signature as Uint8Array), node.address);

  const client = generateKeyPair();
  const request = {
    kind: 'audit-request' as const,
    client: client.address,
    commitment: commitmentToJson(opened.commitment),
    secret: secret.toString('hex'),
    timestampMs: 1,
    nonce: newNonce(),
  };
  assert.deepEqual(openRequest('audit-request', signRequest(client, request)).commitment, request.commitment);
  assert.throws(
    () =>
      openRequest(
        'audit-request',
        signRequest(client, { ...request, commitment: { ...request.commitment, shardEnd: 1 } }),
      ),
    refused(status.INVALID_ARGUMENT, /commitment must be \{nodeId, shardIndex, shardEnd \(past shardIndex\)/),
  );
});

test("a relay's ticket and audit request carry the relayed hash its signature covers, and its id covers it", async () => {
  const input = { tokens: true as const, positions: 1, bytes: tokenBytes([5]) };
  const fields = {
    shardIndex: 0,
    shardEnd: 1,
    stepId: stepIdOf('s', 0),
    inputHash: sha256(input.bytes),
    outputHash: sha256(Buffer.from('out')),
    relayedHash: sha256(Buffer.alloc(130, 9)),
  };
  const commitment = signCommitment(node, fields);
  const wire = asOutput(
    await encodeTicket({
      modelId: 'm',
      shardIndex: 0,
      shardEnd: 1,
      shardSha256: SHA,
      engineVersion: 'e/1',
      input,
      startPosition: 0,
      commitment,
    }),
  );
  const opened = await openTicket(wire, 1 << 20);
  assert.deepEqual(Buffer.from(opened.commitment.relayedHash!), Buffer.from(fields.relayedHash));
  assert.notEqual(opened.ticketId, ticketIdOf({ ...opened.commitment, relayedHash: Buffer.alloc(0) }));
  const back = commitmentFromJson(commitmentToJson(opened.commitment));
  assert.deepEqual(Buffer.from(back.relayedHash!), Buffer.from(fields.relayedHash));
  // without it, or with another, the signature is over something else
  await assert.rejects(
    openTicket({ ...wire, commitment: { ...wire.commitment!, relayedHash: Buffer.alloc(0) } }, 1 << 20),
    refused(status.UNAUTHENTICATED, /not signed/),
  );
  await assert.rejects(
    openTicket({ ...wire, commitment: { ...wire.commitment!, relayedHash: Buffer.alloc(31) } }, 1 << 20),
    refused(status.INVALID_ARGUMENT, /relayedHash has 31 bytes, not 32 or none/),
  );
});
