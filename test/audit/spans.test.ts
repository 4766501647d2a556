// Audits of spans: a node holding a run of one-layer shards commits to the span of them it ran, and
// its tickets are recomputed over exactly that span, from every file of it, by a verifier that holds
// them all (and by the registry when a proof comes).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AuditClient } from '../../src/audit/audit-client.ts';
import { recomputeOutputHash, ShardEngines } from '../../src/audit/recompute.ts';
import { sha256 } from '../../src/crypto/hash.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { LedgerBackend } from '../../src/escrow/ledger-backend.ts';
import type { Engine } from '../../src/model/engine.ts';
import type { Manifest } from '../../src/model/manifest.ts';
import { readManifest } from '../../src/model/shards/shard-files.ts';
import { spanSha256, type ShardSpan } from '../../src/model/shards/span.ts';
import { ENGINE_VERSION } from '../../src/model/engine-version.ts';
import { encodeTicket, type TicketInputBytes } from '../../src/protocol/ticket.ts';
import { parseClusterConfig } from '../../src/registry/cluster-config.ts';
import { AuditStore } from '../../src/registry/audit-store.ts';
import { RegistryClient } from '../../src/registry/registry-client.ts';
import { startRegistry, type RegistryHandle } from '../../src/registry/registry.ts';
import type { Backend } from '../../src/tensor/backend.ts';
import { createWasmBackend } from '../../src/tensor/wasm-backend.ts';
import { startVerifier, type VerifierHandle } from '../../src/verifier/verifier.ts';
import { SessionAudit } from '../../src/audit/session-audit.ts';
import { committedStep, nodeSigned } from '../support/audit-tickets.ts';
import { auditedSession, promptTokens, startAuditNetwork } from '../support/audit-network.ts';
import { testOnlyTamperingEngine } from '../support/test-only-tampering-engine.ts';
import { testModel } from '../support/models.ts';
import { nodeBody, removeDir, tempDir, waitFor } from '../support/registry-fixtures.ts';
import { runTessera } from '../support/tessera-cli.ts';

const RATE = 0.05;
const SPAN: ShardSpan = { start: 1, end: 4 };
const dir = tempDir('audit-spans');
const shardsDir = join(dir, 'shards');
const dbPath = join(dir, 'registry.db');
let manifest: Manifest;
let backend: Backend;
let engines: ShardEngines;
let ledger: LedgerBackend | undefined;
let registry: RegistryHandle | undefined;
let verifier: VerifierHandle | undefined;

before(async () => {
  // One shard a layer, as an operator cuts a model: a node holds any run of them.
  const cut = await runTessera(['shard', testModel('stories260K.gguf'), '--shards', '5', '--out', shardsDir]);
  assert.equal(cut.code, 0, cut.stderr);
  manifest = readManifest(shardsDir);
  assert.equal(manifest.shards.length, manifest.config.layers);
  backend = await createWasmBackend({ threads: 1 });
  engines = new ShardEngines([{ manifest, dir: shardsDir }], backend);
});

after(async () => {
  await verifier?.close();
  await registry?.close();
  await ledger?.close();
  await backend?.close();
  removeDir(dir);
});

/** Hidden states as shard 0 would send them on, `positions` of them. */
function hiddenInput(positions: number): TicketInputBytes {
  const width = manifest.config.hiddenSize;
  const values = Float32Array.from({ length: positions * width }, () => Math.random() - 0.5);
  return { tokens: false, dtype: 'DTYPE_F32', positions, width, bytes: new Uint8Array(values.buffer) };
}

/** The hidden states `engine` sends on for `hidden` over a fresh cache. */
function forwardHidden(engine: Engine, hidden: Float32Array, positions: number): Float32Array {
  const cache = engine.createCache(1 << 24);
  return engine.forward(cache, { hidden }, 0).hidden!.slice(0, positions * manifest.config.hiddenSize);
}

test("one engine over a span's files computes what its shards compute in turn; a missing or altered file of the span is named", () => {
  const input = hiddenInput(4);
  let hidden = new Float32Array(input.bytes.buffer.slice(0));
  for (let shard = SPAN.start; shard < SPAN.end; shard++)
    hidden = forwardHidden(engines.engine(manifest.modelId, { start: shard, end: shard + 1 }), hidden, 4);
  const chained = sha256(new Uint8Array(hidden.buffer, hidden.byteOffset, hidden.byteLength));
  assert.deepEqual(recomputeOutputHash(engines.engine(manifest.modelId, SPAN), input), chained);

  // A directory without shard 2: it holds the span's ends but not all of it.
  const partial = join(dir, 'partial');
  mkdirSync(partial);
  copyFileSync(join(shardsDir, 'manifest.json'), join(partial, 'manifest.json'));
  for (const entry of manifest.shards)
    if (entry.index !== 2) copyFileSync(join(shardsDir, entry.file), join(partial, entry.file));
  const without = new ShardEngines([{ manifest, dir: partial }], backend);
  assert.deepEqual(
    without.held().map((h) => h.shardIndex),
    [0, 1, 3, 4],
  );
  assert.throws(
    () => without.engine(manifest.modelId, SPAN),
    new RegExp(`shard 2 file ${join(partial, manifest.shards[2]!.file)} is missing`),
  );
  // The span's last file altered: named, with both hashes.
  const altered = join(dir, 'altered');
  cpSync(shardsDir, altered, { recursive: true });
  writeFileSync(join(altered, manifest.shards[3]!.file), Buffer.from('not the shard'));
  assert.throws(
    () => new ShardEngines([{ manifest, dir: altered }], backend).engine(manifest.modelId, SPAN),
    new RegExp(`shard 3 file .* has SHA-256 [0-9a-f]{64}, the manifest expects ${manifest.shards[3]!.sha256}`),
  );
  assert.throws(
    () => engines.engine(manifest.modelId, { start: 3, end: 7 }),
    /shards \[3, 7\) reach past stories260K's 5 shards/,
  );
  assert.throws(() => engines.engine('other', SPAN), /no shards of model "other" here/);
});

test('a verifier recomputes a ticket of shards 1–3: an honest one passes; one whose node ran fewer layers than it committed to is proven, and the node slashed; a verifier without every file of the span is not leased it', async () => {
  ledger = new LedgerBackend({ path: dbPath });
  registry = await startRegistry({
    port: 0,
    host: '127.0.0.1',
    dbPath,
    settlement: ledger,
    clusterConfig: parseClusterConfig(
      {
        clusterId: 'audit-spans',
        models: [{ id: manifest.modelId, manifest: 'shards' }],
        // No canaries: the verifier's tally is exactly the tickets queued here.
        audit: { samplingRate: RATE, canaryRate: 0 },
      },
      dir,
    ),
  });
  const node = generateKeyPair();
  const partialVerifier = generateKeyPair();
  const registryClient = new RegistryClient(registry.endpoint);
  try {
    await registryClient.register(
      node,
      nodeBody(node, { modelId: manifest.modelId, shardIndex: 1, shardEnd: 5, endpoint: '127.0.0.1:50101' }),
    );
    await registryClient.register(
      partialVerifier,
      nodeBody(partialVerifier, { role: 'verifier', modelId: '', shardIndex: 0, endpoint: '127.0.0.1:0' }),
    );
  } finally {
    registryClient.close();
  }
  const verifierKey = generateKeyPair();
  for (const key of [node, partialVerifier, verifierKey])
    await ledger.grant(key.address, { stake: 1000n }, `0x${randomBytes(32).toString('hex')}`);

  const ticketOf = async (input: TicketInputBytes, outputHash: Buffer) => {
    const secret = randomBytes(32);
    const commitment = committedStep(
      node,
      secret,
      { shardIndex: SPAN.start, shardEnd: SPAN.end, inputHash: sha256(input.bytes), outputHash },
      RATE,
    );
    const wire = await encodeTicket({
      modelId: manifest.modelId,
      shardIndex: SPAN.start,
      shardEnd: SPAN.end,
      shardSha256: spanSha256(manifest, SPAN),
      engineVersion: ENGINE_VERSION,
      input,
      startPosition: 0,
      commitment,
    });
    return nodeSigned(node, wire, commitment, secret);
  };
  const honestInput = hiddenInput(5);
  const honest = await ticketOf(honestInput, recomputeOutputHash(engines.engine(manifest.modelId, SPAN), honestInput));
  // The cheat: the node ran shards 1–2 and skipped shard 3, yet committed to shards 1–3.
  const shortInput = hiddenInput(3);
  const short = await ticketOf(
    shortInput,
    recomputeOutputHash(engines.engine(manifest.modelId, { start: 1, end: 3 }), shortInput),
  );
  const audits = new AuditClient(registry.endpoint);
  try {
    const ids = [await audits.submitTicket(honest), await audits.submitTicket(short)];

    // Without shard 2's file, a verifier holds shards 1 and 3–4 but not the span: nothing is leased to it.
    const claims = manifest.shards.map((s) => ({
      modelId: manifest.modelId,
      shardIndex: s.index,
      shardSha256: s.sha256,
    }));
    const withoutTwo = claims.filter((c) => c.shardIndex !== 2);
    assert.deepEqual(await audits.pullTickets(partialVerifier, withoutTwo, ENGINE_VERSION, 8), []);
    // Nor by naming shard 2 with another file's hash.
    assert.deepEqual(
      await audits.pullTickets(
        partialVerifier,
        [...withoutTwo, { ...claims[2]!, shardSha256: claims[1]!.shardSha256 }],
        ENGINE_VERSION,
        8,
      ),
      [],
    );
    assert.equal((await audits.status(node.address)).ticketsQueued, 2);

    const logged: { event: string; fields: Record<string, unknown> }[] = [];
    verifier = await startVerifier({
      registry: registry.endpoint,
      shardsDirs: [shardsDir],
      key: verifierKey,
      pollMs: 150,
      log: (event, fields) => logged.push({ event, fields: fields as Record<string, unknown> }),
    });
    const decided = await waitFor(
      'both tickets to be decided',
      async () => {
        const s = await audits.status(node.address);
        return s.ticketsPassed === 1 && s.proofsConfirmed === 1 && s;
      },
      60_000,
    );
    assert.deepEqual([decided.ticketsQueued, decided.banned, decided.slashedAmount], [0, true, '500']);
    assert.equal((await ledger.stakeOf(node.address)).amount, 500n);
    assert.equal((await ledger.stakeOf(verifierKey.address)).amount, 1000n);
    assert.deepEqual(verifier.stats(), { passed: 1, proofs: 1, errors: 0 });
    const proof = logged.find((l) => l.event === 'verifier_fraud_proof');
    assert.deepEqual(
      [proof?.fields.ticketId, proof?.fields.shards, proof?.fields.status],
      [ids[1], 'shards 1–3', 'PROOF_CONFIRMED'],
    );
    assert.match(String(proof?.fields.detail), /the registry recomputed the verifier's output hash/);
    // The store keeps each ticket's span.
    const db = new Database(dbPath, { readonly: true });
    try {
      assert.deepEqual(
        db.prepare('SELECT shard_index AS s, shard_end AS e, status FROM audit_tickets ORDER BY received_at_ms').all(),
        [
          { s: 1, e: 4, status: 'passed' },
          { s: 1, e: 4, status: 'proven' },
        ],
      );
    } finally {
      db.close();
    }
  } finally {
    audits.close();
  }
});

test('an audit database from before spans is migrated: its tickets and requests name the span of their one shard, and lease as before', () => {
  const path = join(dir, 'old-audit.db');
  rmSync(path, { force: true });
  const db = new Database(path);
  try {
    // The two tables as they were before spans, with a row each.
    db.exec(`
      CREATE TABLE audit_tickets (ticket_id TEXT PRIMARY KEY, node_id TEXT NOT NULL, model_id TEXT NOT NULL,
        shard_index INTEGER NOT NULL, engine_version TEXT NOT NULL, ticket BLOB NOT NULL,
        committed_output_hash TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('queued', 'passed', 'proven')),
        lease_owner TEXT, lease_until_ms INTEGER NOT NULL DEFAULT 0, received_at_ms INTEGER NOT NULL,
        done_at_ms INTEGER, done_by TEXT, submitter TEXT NOT NULL DEFAULT '');
      CREATE TABLE audit_requests (ticket_id TEXT PRIMARY KEY, node_id TEXT NOT NULL, shard_index INTEGER NOT NULL,
        client TEXT NOT NULL, requested_at_ms INTEGER NOT NULL, due_by_ms INTEGER NOT NULL, request BLOB NOT NULL);
      INSERT INTO audit_tickets (ticket_id, node_id, model_id, shard_index, engine_version, ticket, committed_output_hash, status, received_at_ms)
        VALUES ('t1', '0xnode', 'm', 2, 'e/1', x'00', 'ab', 'queued', 1);
      INSERT INTO audit_requests VALUES ('t1', '0xnode', 2, '0xclient', 1, 2, x'7b7d');
    `);
    const store = new AuditStore(db);
    assert.deepEqual(db.prepare('SELECT shard_index AS s, shard_end AS e FROM audit_requests').all(), [{ s: 2, e: 3 }]);
    assert.deepEqual(store.lease('0xv', [{ modelId: 'm', start: 3, end: 5 }], 'e/1', 8, 10, 100, 1 << 20), []);
    const [leased] = store.lease('0xv', [{ modelId: 'm', start: 1, end: 3 }], 'e/1', 8, 10, 100, 1 << 20);
    assert.deepEqual([leased?.ticketId, leased?.shardIndex, leased?.shardEnd], ['t1', 2, 3]);
    // Opened again, nothing is migrated twice.
    new AuditStore(db);
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM audit_tickets').get() as { n: number }).n, 1);
  } finally {
    db.close();
  }
});

test('through nodes holding shards 0, 1–3 and 4 of a one-layer cut, each hop commits to its span: the last passes a verifier, and the node that tampers with shards 1–3 is proven over that span', async () => {
  const cheaterKey = generateKeyPair();
  const network = await startAuditNetwork({
    shards: 5,
    spans: [{ start: 0, end: 1 }, SPAN, { start: 4, end: 5 }],
    stake: 1000n,
    // No canaries: the verifier's tally is exactly the nodes' tickets.
    audit: { samplingRate: 1, canaryRate: 0 },
    node: (start) => (start === SPAN.start ? { key: cheaterKey, testOnlyWrapEngine: testOnlyTamperingEngine } : {}),
  });
  let spanVerifier: VerifierHandle | undefined;
  try {
    const verifierKey = generateKeyPair();
    await network.ledger.grant(verifierKey.address, { stake: 1000n }, `0x${randomBytes(32).toString('hex')}`);
    spanVerifier = await startVerifier({
      registry: network.registry.endpoint,
      shardsDirs: [network.shardsDir],
      key: verifierKey,
      pollMs: 150,
      log: () => {},
    });
    const [commitments] = await auditedSession(network, [promptTokens(7, 6)], new SessionAudit(1));
    assert.deepEqual(
      commitments!.map((c) => [c.nodeId, c.shardIndex, c.shardEnd]),
      network.route.map((hop) => [hop.nodeId, hop.shardIndex, hop.shardEnd]),
    );
    const [, cheater, last] = network.nodes;
    const proven = await waitFor(
      "the cheater's proof and the last node's pass",
      async () => {
        const [c, l] = await Promise.all([cheater!, last!].map((n) => network.audits.status(n.nodeId)));
        return c!.proofsConfirmed === 1 && l!.ticketsPassed === 1 && c;
      },
      60_000,
    );
    assert.deepEqual([proven.banned, proven.ticketsPassed, proven.slashedAmount], [true, 0, '500']);
    assert.deepEqual(spanVerifier.stats(), { passed: 1, proofs: 1, errors: 0 });
    const prompt = await network.audits.status(network.nodes[0]!.nodeId);
    assert.deepEqual([prompt.ticketsQueued, prompt.ticketsPassed], [0, 0]);
  } finally {
    await spanVerifier?.close();
    await network.close();
  }
});
