import { committedStep, nodeSigned } from '../support/audit-tickets.ts';
import { sha256 } from '../../src/crypto/hash.ts';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import Database from 'better-sqlite3';
import { AuditClient } from '../../src/audit/audit-client.ts';
import { signCommitment, tokenBytes, type SignedCommitment } from '../../src/protocol/commitment.ts';
import { reasonOf } from '../../src/rpc/status.ts';
import { ENGINE_VERSION } from '../../src/model/engine-version.ts';
import { recomputeOutputHash, ShardEngines } from '../../src/audit/recompute.ts';
import { isAudited } from '../../src/protocol/audit-selection.ts';
import {
  commitmentToJson,
  newNonce,
  signFraudProof,
  signRequest,
  type AuditRequest,
} from '../../src/protocol/audit-statements.ts';
import { encodeTicket, openTicket, ticketIdOf, type TicketInputBytes } from '../../src/protocol/ticket.ts';
import { generateKeyPair, type KeyPair } from '../../src/crypto/keys.ts';
import { LedgerBackend } from '../../src/escrow/ledger-backend.ts';
import type { Manifest } from '../../src/model/manifest.ts';
import { shardModel } from '../../src/model/shards/shard.ts';
import { spanOfShard } from '../../src/model/shards/span.ts';
import { tessera } from '../../src/proto/services.ts';
import type { AuditClient as GrpcAuditClient } from '../../src/proto/tessera/v1/Audit.ts';
import type { FraudProof } from '../../src/proto/tessera/v1/FraudProof.ts';
import type { Signed } from '../../src/proto/tessera/v1/Signed.ts';
import type { Ticket, Ticket__Output } from '../../src/proto/tessera/v1/Ticket.ts';
import { parseClusterConfig } from '../../src/registry/cluster-config.ts';
import { RegistryClient } from '../../src/registry/registry-client.ts';
import { startRegistry, type RegistryHandle } from '../../src/registry/registry.ts';
import { createWasmBackend } from '../../src/tensor/wasm-backend.ts';
import type { Backend } from '../../src/tensor/backend.ts';
import { nodeBody, removeDir, tempDir, waitFor } from '../support/registry-fixtures.ts';
import { testModel } from '../support/models.ts';

const dir = tempDir('audit-registry');
const dbPath = `${dir}/registry.db`;
const LEASE_MS = 400;
const DEADLINE_MS = 300;
let manifest: Manifest;
let registry: RegistryHandle;
let ledger: LedgerBackend;
let backend: Backend;
let engines: ShardEngines;
let audits: AuditClient;
let raw: GrpcAuditClient;
const nodes = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
const verifiers = [generateKeyPair(), generateKeyPair()];
const outsider = generateKeyPair();
const client = generateKeyPair();

async function startRegistryHere(): Promise<RegistryHandle> {
  const clusterConfig = parseClusterConfig(
    {
      clusterId: 'audit-registry',
      models: [{ id: manifest.modelId, manifest: 'shards' }],
      // Heartbeats often enough for the short deadline (nodes here send none: they stay listed 50 s).
      heartbeat: { intervalMs: 50, evictAfterMissed: 1000 },
      // No canaries: leases here hold exactly the tickets queued (test/attacks/audits.test.ts has them).
      audit: { samplingRate: 0.05, leaseMs: LEASE_MS, ticketDeadlineMs: DEADLINE_MS, canaryRate: 0 },
    },
    dir,
  );
  return startRegistry({ port: 0, host: '127.0.0.1', dbPath, clusterConfig, settlement: ledger });
}

before(async () => {
  manifest = shardModel(testModel('stories260K.gguf'), 3, `${dir}/shards`);
  ledger = new LedgerBackend({ path: dbPath });
  registry = await startRegistryHere();
  backend = await createWasmBackend({ threads: 1 });
  engines = new ShardEngines([{ manifest, dir: `${dir}/shards` }], backend);
  const registryClient = new RegistryClient(registry.endpoint);
  for (const [shardIndex, key] of nodes.entries()) {
    await registryClient.register(
      key,
      nodeBody(key, { modelId: manifest.modelId, shardIndex, endpoint: `127.0.0.1:${50100 + shardIndex}` }),
    );
    await ledger.grant(key.address, { stake: 1000n }, `0x${randomBytes(32).toString('hex')}`);
  }
  for (const key of verifiers) {
    // Only staked verifiers lease tickets and file proofs.
    await ledger.grant(key.address, { stake: 1000n }, `0x${randomBytes(32).toString('hex')}`);
    await registryClient.register(
      key,
      nodeBody(key, { role: 'verifier', modelId: '', shardIndex: 0, endpoint: '127.0.0.1:0' }),
    );
  }
  registryClient.close();
  audits = new AuditClient(registry.endpoint);
  raw = new tessera.v1.Audit(registry.endpoint, credentials.createInsecure()) as unknown as GrpcAuditClient;
});

after(async () => {
  audits?.close();
  raw?.close();
  await registry?.close();
  await ledger?.close();
  await backend?.close();
  removeDir(dir);
});

type RawMethod = 'submitTicket' | 'pullTickets' | 'completeTickets' | 'submitFraudProof' | 'requestAudit';
function call(method: RawMethod, argument: Ticket | Signed | FraudProof): Promise<unknown> {
  return new Promise((resolve, reject) => {
    (raw[method] as (arg: unknown, cb: (error: ServiceError | null, reply: unknown) => void) => void).call(
      raw,
      argument,
      (error, reply) => (error ? reject(error) : resolve(reply)),
    );
  });
}

function refused(code: status, pattern: RegExp) {
  return (error: ServiceError) => {
    assert.equal(error.code, code, `${status[error.code]}: ${error.details}`);
    assert.match(error.details, pattern);
    return true;
  };
}

/** Every row of the audit tables and the stakes, as an operator would read them. */
function snapshot(): Record<string, unknown[]> {
  const db = new Database(dbPath, { readonly: true });
  try {
    const tables = ['audit_tickets', 'audit_proofs', 'audit_bans', 'audit_slashes', 'audit_requests', 'ledger_stakes'];
    return Object.fromEntries(tables.map((t) => [t, db.prepare(`SELECT * FROM ${t} ORDER BY 1`).all()]));
  } finally {
    db.close();
  }
}

interface Made {
  readonly wire: Ticket;
  readonly commitment: SignedCommitment;
  readonly input: TicketInputBytes;
  readonly trueOutput: Buffer;
}

/**
 * A ticket of `key`'s shard over fresh input: its commitment honest, or (`lie`) naming another output.
 * With a `secret`, the commitment binds it (as a node binds its session's audit commitment) and its
 * step is one the secret selects at rate 0.05, or (`selected: false`) one it does not.
 */
async function makeTicket(
  key: KeyPair,
  shardIndex: number,
  options: { lie?: boolean; engineVersion?: string; secret?: Buffer; selected?: boolean; unbound?: boolean } = {},
): Promise<Made> {
  const secret = options.secret ?? randomBytes(32);
  const positions = 3;
  const input: TicketInputBytes =
    shardIndex === 0
      ? {
          tokens: true,
          positions,
          bytes: tokenBytes(Array.from({ length: positions }, () => 1 + (randomBytes(2).readUInt16LE() % 500))),
        }
      : {
          tokens: false,
          dtype: 'DTYPE_F32',
          positions,
          width: manifest.config.hiddenSize,
          bytes: new Uint8Array(
            Float32Array.from({ length: positions * manifest.config.hiddenSize }, () => Math.random() - 0.5).buffer,
          ),
        };
  const trueOutput = recomputeOutputHash(engines.engine(manifest.modelId, spanOfShard(shardIndex)), input);
  const commitment = committedStep(
    key,
    secret,
    {
      shardIndex,
      inputHash: sha256(input.bytes),
      outputHash: options.lie ? sha256(Buffer.from('made up')) : trueOutput,
    },
    0.05,
    { selected: options.selected ?? true, bound: !options.unbound },
  );
  const encoded = await encodeTicket({
    modelId: manifest.modelId,
    shardIndex,
    shardEnd: shardIndex + 1,
    shardSha256: manifest.shards[shardIndex]!.sha256,
    engineVersion: options.engineVersion ?? ENGINE_VERSION,
    input,
    startPosition: 0,
    commitment,
  });
  return { wire: nodeSigned(key, encoded, commitment, secret), commitment, input, trueOutput };
}

test('a ticket is queued once; replayed, forged, mismatched or prompt-holding tickets are refused precisely and change nothing', async () => {
  const good = await makeTicket(nodes[2]!, 2);
  assert.equal(await audits.submitTicket(good.wire), ticketIdOf(good.commitment));
  const before = snapshot();
  assert.equal(before.audit_tickets!.length, 1);

  await assert.rejects(
    audits.submitTicket(good.wire),
    refused(status.ALREADY_EXISTS, /is already held \(queued\); each commitment is audited once/),
  );
  const other = await makeTicket(nodes[2]!, 2);
  const forgedSignature = signCommitment(outsider, other.commitment);
  await assert.rejects(
    audits.submitTicket({
      ...other.wire,
      commitment: { ...other.wire.commitment, signature: forgedSignature.signature },
    }),
    refused(status.UNAUTHENTICATED, new RegExp(`the ticket's commitment is not signed by node ${nodes[2]!.address}`)),
  );
  await assert.rejects(
    audits.submitTicket({
      ...other.wire,
      input: { ...other.wire.input, data: deflateSync(Buffer.alloc(other.input.bytes.length)) },
    }),
    refused(
      status.INVALID_ARGUMENT,
      /ticket input hashes to [0-9a-f]{64}, the commitment's input hash is [0-9a-f]{64}: it is not the input committed to/,
    ),
  );
  await assert.rejects(
    audits.submitTicket({ ...other.wire, shardSha256: 'ab'.repeat(32) }),
    refused(status.INVALID_ARGUMENT, /ticket names weights with SHA-256 abab.*; shard 2 of "stories260K" has/),
  );
  await assert.rejects(
    audits.submitTicket({ ...other.wire, startPosition: 7 }),
    refused(status.INVALID_ARGUMENT, /starts at position 7; only steps from position 0 are audited/),
  );
  await assert.rejects(
    audits.submitTicket({ ...other.wire, modelId: 'unknown' }),
    refused(status.NOT_FOUND, /model "unknown" is not served by this registry/),
  );
  await assert.rejects(
    audits.submitTicket((await makeTicket(outsider, 2)).wire),
    refused(status.NOT_FOUND, new RegExp(`node ${outsider.address} is not registered here`)),
  );
  await assert.rejects(
    audits.submitTicket((await makeTicket(nodes[0]!, 1)).wire),
    refused(status.INVALID_ARGUMENT, /holds shard 0 of "stories260K", the ticket is for shard 1 of "stories260K"/),
  );
  await assert.rejects(
    audits.submitTicket((await makeTicket(nodes[2]!, 2, { engineVersion: 'tessera-engine/9.9.9' })).wire),
    refused(status.FAILED_PRECONDITION, /computed by tessera-engine\/9\.9\.9; this registry audits tessera-engine\//),
  );
  // Shard 0's ticket, however well made and signed by its own node, holds a prompt: never queued.
  await assert.rejects(
    audits.submitTicket((await makeTicket(nodes[0]!, 0)).wire),
    (error: ServiceError) =>
      refused(status.FAILED_PRECONDITION, /holds the prompt's token ids: it is never queued/)(error) &&
      reasonOf(error) === 'TICKET_HOLDS_PROMPT',
  );
  assert.deepEqual(snapshot(), before);
});

test('leases: pulls and reports are signed, fresh and used once; an unfinished lease runs out and the ticket returns', async () => {
  const made = await makeTicket(nodes[1]!, 1);
  const ticketId = await audits.submitTicket(made.wire);
  const [v1, v2] = verifiers as [KeyPair, KeyPair];
  const held = manifest.shards.map((s) => ({ modelId: manifest.modelId, shardIndex: s.index, shardSha256: s.sha256 }));
  const pull = (key: KeyPair, signer = key) =>
    signRequest(signer, {
      kind: 'pull-tickets',
      verifierId: key.address,
      engineVersion: ENGINE_VERSION,
      shards: held,
      max: 8,
      timestampMs: Date.now(),
      nonce: newNonce(),
    });

  const signed = pull(v1);
  const first = (await call('pullTickets', signed)) as { tickets: { ticketId: string; ticket: Ticket__Output }[] };
  assert.deepEqual(
    first.tickets.map((t) => t.ticketId).filter((id) => id === ticketId),
    [ticketId],
  );
  // Leased without the node's signatures (a canary would have none): the registry checked them.
  const leasedTicket = first.tickets.find((t) => t.ticketId === ticketId)!.ticket;
  assert.deepEqual(leasedTicket.commitment!.signature, Buffer.alloc(65));
  assert.equal(leasedTicket.signature.length + leasedTicket.auditSecret.length, 0);
  assert.equal((await openTicket(leasedTicket, 1 << 20, { requireSignature: false })).ticketId, ticketId);
  await assert.rejects(
    call('pullTickets', signed),
    refused(status.ALREADY_EXISTS, /replayed pull-tickets: nonce [0-9a-f]{32} was already used/),
  );
  await assert.rejects(
    call('pullTickets', pull(outsider)),
    refused(status.PERMISSION_DENIED, /is not a registered verifier: register with role "verifier" first/),
  );
  await assert.rejects(
    call('pullTickets', { payload: pull(v1).payload, signature: pull(v2).signature }),
    refused(status.UNAUTHENTICATED, /pull-tickets is signed by 0x[0-9a-f]{40}, not by/),
  );
  await assert.rejects(
    call(
      'pullTickets',
      signRequest(v1, {
        kind: 'pull-tickets',
        verifierId: v1.address,
        engineVersion: ENGINE_VERSION,
        shards: held,
        max: 8,
        timestampMs: Date.now() - 3_600_000,
        nonce: newNonce(),
      }),
    ),
    refused(status.INVALID_ARGUMENT, /stale timestamp: pull-tickets dated 3600 s behind registry time/),
  );
  assert.deepEqual(await audits.pullTickets(v2, held, ENGINE_VERSION, 8), [], 'leased to v1');

  await assert.rejects(
    audits.completeTickets(v2, [{ ticketId, outputHash: made.trueOutput }]),
    refused(status.FAILED_PRECONDITION, new RegExp(`is leased to ${v1.address}: pull it before reporting it`)),
  );
  await assert.rejects(
    audits.completeTickets(v1, [{ ticketId, outputHash: sha256(Buffer.from('wrong')) }]),
    refused(status.INVALID_ARGUMENT, /differs from the committed [0-9a-f]{64}: submit a fraud proof instead/),
  );
  await assert.rejects(
    audits.completeTickets(v1, [{ ticketId: 'ab'.repeat(32), outputHash: made.trueOutput }]),
    refused(status.NOT_FOUND, /unknown ticket abab/),
  );

  // v1 never reports: once its lease runs out, v2 gets the ticket.
  const leased = await waitFor(
    'the lease to run out',
    async () => {
      const tickets = await audits.pullTickets(v2, held, ENGINE_VERSION, 8);
      return tickets.length > 0 && tickets;
    },
    10_000,
  );
  assert.ok(leased.some((t) => t.ticketId === ticketId));
  assert.equal(
    await audits.completeTickets(
      v2,
      leased.map((t) => ({ ticketId: t.ticketId, outputHash: Buffer.from(snapshotHash(t.ticketId), 'hex') })),
    ),
    leased.length,
  );
  await assert.rejects(
    audits.completeTickets(v2, [{ ticketId, outputHash: made.trueOutput }]),
    refused(status.FAILED_PRECONDITION, /is already passed/),
  );
  assert.equal((await audits.status(nodes[1]!.address)).ticketsPassed, 1);
});

/** The output hash a ticket committed to, as the registry stored it. */
function snapshotHash(ticketId: string): string {
  const row = snapshot().audit_tickets!.find((t) => (t as { ticket_id: string }).ticket_id === ticketId) as {
    committed_output_hash: string;
  };
  return row.committed_output_hash;
}

test('fraud proofs: forged or replayed ones are refused, a mistaken one is refuted and kept, a true one slashes and evicts once', async () => {
  const [v1] = verifiers as [KeyPair];
  const cheater = nodes[1]!;
  const lie = await makeTicket(cheater, 1, { lie: true });
  const lieOpened = await openTicket(asOutput(lie.wire), 1 << 20);
  const honest = await makeTicket(nodes[2]!, 2);
  const honestOpened = await openTicket(asOutput(honest.wire), 1 << 20);
  const before = snapshot();

  const proof = signFraudProof(v1, lie.wire, lieOpened, lie.trueOutput);
  await assert.rejects(
    call('submitFraudProof', {
      ...proof,
      signature: signFraudProof(outsider, lie.wire, lieOpened, lie.trueOutput, Number(proof.timestampMs)).signature,
    }),
    refused(
      status.UNAUTHENTICATED,
      new RegExp(`fraud proof is signed by 0x[0-9a-f]{40}, not by verifier ${v1.address}`),
    ),
  );
  await assert.rejects(
    call('submitFraudProof', signFraudProof(outsider, lie.wire, lieOpened, lie.trueOutput)),
    refused(status.PERMISSION_DENIED, /is not a registered verifier/),
  );
  await assert.rejects(
    call('submitFraudProof', {
      ...proof,
      ticket: { ...lie.wire, input: { ...lie.wire.input, data: deflateSync(Buffer.alloc(lie.input.bytes.length)) } },
    }),
    refused(status.INVALID_ARGUMENT, /it is not the input committed to/),
  );
  await assert.rejects(
    call('submitFraudProof', {
      ...proof,
      ticket: {
        ...lie.wire,
        commitment: { ...lie.wire.commitment, signature: signCommitment(outsider, lie.commitment).signature },
      },
    }),
    refused(status.UNAUTHENTICATED, /the ticket's commitment is not signed by node/),
  );
  await assert.rejects(
    call('submitFraudProof', signFraudProof(v1, honest.wire, honestOpened, honest.trueOutput)),
    refused(status.INVALID_ARGUMENT, /equals the one node 0x[0-9a-f]{40} committed to: no mismatch/),
  );
  assert.deepEqual(snapshot(), before);

  // A verifier that is wrong: the registry's own recomputation refutes it; the node keeps its stake.
  const mistaken = await audits.submitFraudProof(
    signFraudProof(v1, honest.wire, honestOpened, sha256(Buffer.from('mistake'))),
  );
  assert.equal(mistaken.status, 'PROOF_REFUTED');
  assert.equal(mistaken.slashedAmount, '');
  await assert.rejects(
    audits.submitFraudProof(signFraudProof(v1, honest.wire, honestOpened, sha256(Buffer.from('again')))),
    refused(status.ALREADY_EXISTS, /already on record \(refuted/),
  );
  assert.equal((await audits.status(nodes[2]!.address)).proofsRefuted, 1);
  assert.equal((await ledger.stakeOf(nodes[2]!.address)).amount, 1000n);
  // The verifier pays for the recomputation it caused: stake.slashFractions.fraud (0.5) of its 1000.
  assert.equal((await audits.status(v1.address)).slashedAmount, '500');
  assert.equal((await ledger.stakeOf(v1.address)).amount, 500n);

  const confirmed = await audits.submitFraudProof(proof);
  assert.equal(confirmed.status, 'PROOF_CONFIRMED', confirmed.detail);
  assert.equal(confirmed.accused, cheater.address);
  assert.equal(confirmed.slashedAmount, '500');
  await assert.rejects(audits.submitFraudProof(proof), refused(status.ALREADY_EXISTS, /already on record \(confirmed/));
  await assert.rejects(
    audits.submitFraudProof(signFraudProof(verifiers[1]!, lie.wire, lieOpened, lie.trueOutput)),
    refused(status.ALREADY_EXISTS, /already on record/),
  );
  assert.equal((await ledger.stakeOf(cheater.address)).amount, 500n, 'slashed once');

  const registryClient = new RegistryClient(registry.endpoint);
  try {
    assert.deepEqual(
      (await registryClient.discover(manifest.modelId)).nodes.map((n) => n.nodeId).sort(),
      [nodes[0]!.address, nodes[2]!.address].sort(),
    );
    await assert.rejects(
      registryClient.heartbeat(
        cheater,
        nodeBody(cheater, { modelId: manifest.modelId, shardIndex: 1, endpoint: '127.0.0.1:50101' }),
      ),
      refused(status.PERMISSION_DENIED, /slashed and evicted for fraud/),
    );
  } finally {
    registryClient.close();
  }

  // The ban, the proof and the slash survive a restart, and the slash is not taken twice.
  await registry.close();
  registry = await startRegistryHere();
  audits.close();
  audits = new AuditClient(registry.endpoint);
  raw.close();
  raw = new tessera.v1.Audit(registry.endpoint, credentials.createInsecure()) as unknown as GrpcAuditClient;
  const after = await audits.status(cheater.address);
  assert.equal(after.banned, true);
  assert.equal(after.proofsConfirmed, 1);
  assert.equal(after.slashedAmount, '500');
  assert.equal((await ledger.stakeOf(cheater.address)).amount, 500n);
  await assert.rejects(
    audits.submitTicket((await makeTicket(cheater, 1)).wire),
    refused(status.PERMISSION_DENIED, /may not rejoin/),
  );
});

test('audit requests: only a step the bound secret selects is owed; an unanswered one stands as a refusal past its deadline', async () => {
  const key = nodes[2]!;
  const secret = randomBytes(32);
  const made = await makeTicket(key, 2, { secret });
  const request = (secret: Buffer, commitment = made.commitment): AuditRequest => ({
    kind: 'audit-request',
    client: client.address,
    commitment: commitmentToJson(commitment),
    secret: secret.toString('hex'),
    timestampMs: Date.now(),
    nonce: newNonce(),
  });
  const before = snapshot();
  const unselected = await makeTicket(key, 2, { secret, selected: false });
  await assert.rejects(
    call('requestAudit', signRequest(client, request(secret, unselected.commitment))),
    refused(
      status.FAILED_PRECONDITION,
      /does not select this step of shard 2 at the cluster's sampling rate 0.05: nothing is owed/,
    ),
  );
  // Another secret that happens to select the step is not the one the session committed to.
  let other: Buffer;
  do other = randomBytes(32);
  while (!isAudited(other, made.commitment, 0.05));
  await assert.rejects(
    call('requestAudit', signRequest(client, request(other))),
    refused(
      status.FAILED_PRECONDITION,
      /the secret is not the one the session committed to at Open .*: nothing is owed/,
    ),
  );
  const unbound = await makeTicket(key, 2, { unbound: true });
  await assert.rejects(
    call('requestAudit', signRequest(client, request(secret, unbound.commitment))),
    refused(
      status.FAILED_PRECONDITION,
      /opened without an audit commitment, so none of its steps can be audited: nothing is owed/,
    ),
  );
  const forged = signCommitment(outsider, made.commitment);
  await assert.rejects(
    call('requestAudit', signRequest(client, request(secret, { ...made.commitment, signature: forged.signature }))),
    refused(status.UNAUTHENTICATED, /the commitment is not signed by node/),
  );
  // No node is asked for shard 0's ticket: it would hold the prompt.
  const prompt = await makeTicket(nodes[0]!, 0, { secret });
  await assert.rejects(
    call('requestAudit', signRequest(client, request(secret, prompt.commitment))),
    (error: ServiceError) =>
      refused(status.FAILED_PRECONDITION, /would hold the prompt: no node is asked for one/)(error) &&
      reasonOf(error) === 'TICKET_HOLDS_PROMPT',
  );
  assert.deepEqual(snapshot(), before);

  const signed = signRequest(client, request(secret));
  const reply = (await call('requestAudit', signed)) as { ticketed: boolean; dueByMs: number };
  assert.equal(reply.ticketed, false);
  await assert.rejects(
    call('requestAudit', signed),
    refused(status.ALREADY_EXISTS, /an audit request for ticket [0-9a-f]{64} is already on record/),
  );
  assert.equal((await audits.status(key.address)).requestsPending, 1);
  await waitFor('the deadline to pass', () => Date.now() > reply.dueByMs);
  const refusedStatus = await audits.status(key.address);
  assert.equal(refusedStatus.refusals, 1);
  assert.equal(refusedStatus.requestsPending, 0);
  // The registry's next sweep slashes the refusal: stake.slashFractions.auditRefusal (0.1) of 1000.
  await waitFor('the refusal slash', async () => (await audits.status(key.address)).slashedAmount === '100');
  assert.equal((await ledger.stakeOf(key.address)).amount, 900n);

  // A ticket that came in time answers its request.
  const answeredSecret = randomBytes(32);
  const answered = await makeTicket(key, 2, { secret: answeredSecret });
  await audits.submitTicket(answered.wire);
  assert.equal((await audits.requestAudit(client, answered.commitment, answeredSecret)).ticketed, true);
  assert.equal((await audits.status(key.address)).refusals, 1);
});

function asOutput(t: Ticket): Ticket__Output {
  const codec = tessera.v1.Audit.service.SubmitTicket;
  return codec.requestDeserialize(codec.requestSerialize(t)) as Ticket__Output;
}
