import { PROMPT_SHARD } from '../audit/prompt-shard.ts';
import type { ShardSpan } from '../model/shards/span.ts';
import type Database from 'better-sqlite3';

export type TicketStatus = 'queued' | 'passed' | 'proven';
export type ProofStatus = 'confirmed' | 'unconfirmed' | 'refuted';

export interface QueuedTicket {
  readonly ticketId: string;
  readonly nodeId: string;
  readonly modelId: string;
  /** The commitment's span of shards [shardIndex, shardEnd). */
  readonly shardIndex: number;
  readonly shardEnd: number;
  /** The Ticket message as received (protobuf). */
  readonly ticket: Buffer;
  readonly committedOutputHash: string;
}

export interface LeasedRow extends QueuedTicket {
  readonly leaseUntilMs: number;
}

export interface ProofRecord {
  readonly proofId: string;
  readonly ticketId: string;
  readonly accused: string;
  readonly verifierId: string;
  readonly status: ProofStatus;
  readonly recomputedHash: string;
  /** What the registry's own recomputation gave ('' when it could not recompute). */
  readonly registryHash: string;
  readonly detail: string;
  /** The FraudProof message as received (protobuf). */
  readonly proof: Buffer;
  readonly atMs: number;
}

export interface AuditCounts {
  readonly ticketsQueued: number;
  readonly ticketsPassed: number;
  readonly proofsConfirmed: number;
  readonly proofsUnconfirmed: number;
  readonly proofsRefuted: number;
  readonly refusals: number;
  readonly requestsPending: number;
  readonly banned: boolean;
  /** Decimal sum of applied slashes. */
  readonly slashedAmount: string;
}

// Tables live in the registry's own file (`audit_` prefix) so that a confirmed proof, the ban and
// the eviction of the node commit in one transaction.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit_tickets (
  ticket_id TEXT PRIMARY KEY,
  node_id TEXT NOT NULL,
  model_id TEXT NOT NULL,
  shard_index INTEGER NOT NULL,
  shard_end INTEGER NOT NULL,
  engine_version TEXT NOT NULL,
  ticket BLOB NOT NULL,
  committed_output_hash TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'passed', 'proven')),
  lease_owner TEXT,
  lease_until_ms INTEGER NOT NULL DEFAULT 0,
  received_at_ms INTEGER NOT NULL,
  done_at_ms INTEGER,
  done_by TEXT,
  submitter TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_tickets_queue ON audit_tickets (status, model_id, shard_index, engine_version, received_at_ms);
CREATE INDEX IF NOT EXISTS audit_tickets_by_node ON audit_tickets (node_id, status);
CREATE TABLE IF NOT EXISTS audit_proofs (
  proof_id TEXT PRIMARY KEY,
  ticket_id TEXT NOT NULL UNIQUE,
  accused TEXT NOT NULL,
  verifier_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('confirmed', 'unconfirmed', 'refuted')),
  recomputed_hash TEXT NOT NULL,
  registry_hash TEXT NOT NULL,
  detail TEXT NOT NULL,
  proof BLOB NOT NULL,
  at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_proofs_by_accused ON audit_proofs (accused, status);
CREATE TABLE IF NOT EXISTS audit_bans (node_id TEXT PRIMARY KEY, proof_id TEXT NOT NULL, at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audit_slashes (
  proof_id TEXT PRIMARY KEY,
  node_id TEXT NOT NULL,
  fraction_bps INTEGER NOT NULL,
  -- decimal; NULL until the settlement back end has applied it (or when none holds stakes)
  amount TEXT,
  applied_at_ms INTEGER,
  note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS audit_requests (
  ticket_id TEXT PRIMARY KEY,
  node_id TEXT NOT NULL,
  shard_index INTEGER NOT NULL,
  shard_end INTEGER NOT NULL,
  client TEXT NOT NULL,
  requested_at_ms INTEGER NOT NULL,
  due_by_ms INTEGER NOT NULL,
  request BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_requests_by_node ON audit_requests (node_id, due_by_ms);
-- Canaries: copies of real tickets (never yet leased) whose committed output hash the registry
-- altered, leased to one verifier. outcome: NULL until answered; 'caught' (a fraud proof: the honest
-- verdict) or 'passed' (the verifier reported the altered hash as recomputed: it did not compute).
CREATE TABLE IF NOT EXISTS audit_canaries (
  canary_id TEXT PRIMARY KEY,
  source_ticket_id TEXT NOT NULL UNIQUE,
  verifier_id TEXT NOT NULL,
  ticket BLOB NOT NULL,
  committed_output_hash TEXT NOT NULL,
  leased_at_ms INTEGER NOT NULL,
  lease_until_ms INTEGER NOT NULL,
  outcome TEXT CHECK (outcome IN ('caught', 'passed')),
  done_at_ms INTEGER
);
CREATE INDEX IF NOT EXISTS audit_canaries_by_verifier ON audit_canaries (verifier_id, outcome, done_at_ms);
-- One row per audit request that passed its deadline without a ticket: its refusal, decided once.
-- Slashed (fraction_bps > 0) under audit_slashes[evidence_id]; an excused one says why and counts
-- as no refusal.
CREATE TABLE IF NOT EXISTS audit_refusals (
  ticket_id TEXT PRIMARY KEY,
  node_id TEXT NOT NULL,
  evidence_id TEXT NOT NULL,
  fraction_bps INTEGER NOT NULL,
  excuse TEXT NOT NULL DEFAULT '',
  at_ms INTEGER NOT NULL
);
`;

/** An audit request still waiting for its ticket (and not yet decided as a refusal). */
export interface OpenRequest {
  readonly ticketId: string;
  readonly nodeId: string;
  readonly dueByMs: number;
  /** The client's signed AuditRequest payload (canonical JSON) as received. */
  readonly request: Buffer;
}

// An audit request is open while its ticket has not come and no refusal was decided for it.
const OPEN_REQUEST = `NOT EXISTS (SELECT 1 FROM audit_tickets t WHERE t.ticket_id = r.ticket_id)
  AND NOT EXISTS (SELECT 1 FROM audit_refusals f WHERE f.ticket_id = r.ticket_id)`;
const OPEN_COLUMNS = 'r.ticket_id AS ticketId, r.node_id AS nodeId, r.due_by_ms AS dueByMs, r.request';

const TICKET_COLUMNS =
  'ticket_id AS ticketId, node_id AS nodeId, model_id AS modelId, shard_index AS shardIndex, shard_end AS shardEnd, ticket, committed_output_hash AS committedOutputHash';

/** A run of shards a verifier holds every file of: it takes the tickets whose span lies within. */
export interface HeldSpan extends ShardSpan {
  readonly modelId: string;
}

/** The SQL that admits the tickets of `held` spans, and its parameters. */
function withinHeld(held: readonly HeldSpan[]): { sql: string; params: (string | number)[] } {
  return {
    sql: held.map(() => '(model_id = ? AND shard_index >= ? AND shard_end <= ?)').join(' OR '),
    params: held.flatMap((h) => [h.modelId, h.start, h.end]),
  };
}

/** How far down the queue a lease with a draw looks, in multiples of the tickets it may take. */
const LEASE_SCAN_FACTOR = 16;

/** The lease owner of tickets held back as canary sources (no verifier key is spelled so). */
const CANARY_RESERVE = '#canary-reserve';

/** The registry's audit state: the ticket queue with leases, fraud proofs, bans, slashes, audit requests. */
export class AuditStore {
  constructor(private readonly db: Database.Database) {
    const columnsOf = (table: string): string[] | undefined =>
      db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) === undefined
        ? undefined
        : (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
    const tickets = columnsOf('audit_tickets');
    // A database from before per-submitter bounds: its tickets count against no submitter.
    if (tickets !== undefined && !tickets.includes('submitter'))
      db.exec("ALTER TABLE audit_tickets ADD COLUMN submitter TEXT NOT NULL DEFAULT ''");
    // A database from before spans: each ticket and request named one shard, the span of it alone.
    for (const table of ['audit_tickets', 'audit_requests']) {
      const columns = table === 'audit_tickets' ? tickets : columnsOf(table);
      if (columns === undefined || columns.includes('shard_end')) continue;
      db.transaction(() => {
        db.exec(`ALTER TABLE ${table} ADD COLUMN shard_end INTEGER`);
        db.exec(`UPDATE ${table} SET shard_end = shard_index + 1 WHERE shard_end IS NULL`);
      })();
    }
    db.exec(SCHEMA);
    db.exec('CREATE INDEX IF NOT EXISTS audit_tickets_by_submitter ON audit_tickets (submitter, status)');
  }

  // --- tickets ---

  /**
   * Deletes the tickets of spans from the prompt shard (their input is a prompt's token ids) that no
   * fraud proof names, and the canaries copied from them; returns how many tickets went.
   */
  dropPromptTickets(): number {
    return this.db.transaction(() => {
      const unproven = `FROM audit_tickets t WHERE t.shard_index = ${PROMPT_SHARD}
        AND NOT EXISTS (SELECT 1 FROM audit_proofs p WHERE p.ticket_id = t.ticket_id)`;
      this.db.exec(`DELETE FROM audit_canaries WHERE source_ticket_id IN (SELECT t.ticket_id ${unproven})`);
      return this.db.prepare(`DELETE FROM audit_tickets WHERE ticket_id IN (SELECT t.ticket_id ${unproven})`).run()
        .changes;
    })();
  }

  hasTicket(ticketId: string): boolean {
    return this.db.prepare('SELECT 1 FROM audit_tickets WHERE ticket_id = ?').get(ticketId) !== undefined;
  }

  ticketStatus(
    ticketId: string,
  ): { status: TicketStatus; leaseOwner: string | null; committedOutputHash: string } | undefined {
    return this.db
      .prepare(
        'SELECT status, lease_owner AS leaseOwner, committed_output_hash AS committedOutputHash FROM audit_tickets WHERE ticket_id = ?',
      )
      .get(ticketId) as { status: TicketStatus; leaseOwner: string | null; committedOutputHash: string } | undefined;
  }

  queuedFor(nodeId: string): number {
    return (
      this.db
        .prepare("SELECT COUNT(*) AS n FROM audit_tickets WHERE node_id = ? AND status = 'queued'")
        .get(nodeId) as { n: number }
    ).n;
  }

  queuedFrom(submitter: string): number {
    return (
      this.db
        .prepare("SELECT COUNT(*) AS n FROM audit_tickets WHERE submitter = ? AND status = 'queued'")
        .get(submitter) as { n: number }
    ).n;
  }

  /** Queues a ticket; false when one with this id is already held. */
  addTicket(t: QueuedTicket & { readonly engineVersion: string; readonly submitter: string }, nowMs: number): boolean {
    const result = this.db
      .prepare(
        `INSERT OR IGNORE INTO audit_tickets (ticket_id, node_id, model_id, shard_index, shard_end, engine_version, ticket, committed_output_hash, status, received_at_ms, submitter)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?)`,
      )
      .run(
        t.ticketId,
        t.nodeId,
        t.modelId,
        t.shardIndex,
        t.shardEnd,
        t.engineVersion,
        t.ticket,
        t.committedOutputHash,
        nowMs,
        t.submitter,
      );
    return result.changes === 1;
  }

  /**
   * Leases up to `max` queued tickets (at most `maxBytes` of them, but at least one) whose span lies
   * within one of the `held` spans, of the engine version, oldest first, skipping those leased to
   * someone else whose lease has not run out.
   */
  lease(
    verifierId: string,
    held: readonly HeldSpan[],
    engineVersion: string,
    max: number,
    nowMs: number,
    leaseMs: number,
    maxBytes: number,
    admit?: (ticketId: string, receivedAtMs: number) => boolean,
  ): LeasedRow[] {
    if (held.length === 0) return [];
    const until = nowMs + leaseMs;
    const within = withinHeld(held);
    return this.db.transaction(() => {
      const rows = this.db
        .prepare(
          `SELECT ${TICKET_COLUMNS}, received_at_ms AS receivedAtMs FROM audit_tickets
           WHERE status = 'queued' AND engine_version = ? AND (${within.sql}) AND (lease_owner IS NULL OR lease_owner = ? OR lease_until_ms < ?)
           ORDER BY received_at_ms, ticket_id LIMIT ?`,
        )
        .all(
          engineVersion,
          ...within.params,
          verifierId,
          nowMs,
          // tickets drawn for other verifiers are passed over: look further down the queue
          admit === undefined ? max : max * LEASE_SCAN_FACTOR,
        ) as (QueuedTicket & { receivedAtMs: number })[];
      const take = this.db.prepare('UPDATE audit_tickets SET lease_owner = ?, lease_until_ms = ? WHERE ticket_id = ?');
      const leased: LeasedRow[] = [];
      let bytes = 0;
      for (const { receivedAtMs, ...row } of rows) {
        if (leased.length === max) break;
        if (admit !== undefined && !admit(row.ticketId, receivedAtMs)) continue;
        bytes += row.ticket.length;
        if (leased.length > 0 && bytes > maxBytes) break;
        take.run(verifierId, until, row.ticketId);
        leased.push({ ...row, leaseUntilMs: until });
      }
      return leased;
    })();
  }

  markPassed(ticketIds: readonly string[], verifierId: string, nowMs: number): void {
    const update = this.db.prepare(
      "UPDATE audit_tickets SET status = 'passed', done_at_ms = ?, done_by = ?, lease_owner = NULL WHERE ticket_id = ? AND status = 'queued'",
    );
    for (const id of ticketIds) update.run(nowMs, verifierId, id);
  }

  markProven(ticketId: string, verifierId: string, nowMs: number): void {
    this.db
      .prepare(
        "UPDATE audit_tickets SET status = 'proven', done_at_ms = ?, done_by = ?, lease_owner = NULL WHERE ticket_id = ?",
      )
      .run(nowMs, verifierId, ticketId);
  }

  // --- canaries ---

  /**
   * Holds a just-queued ticket back from leases as a future canary's source, so that one exists
   * even when verifiers drain the queue as fast as it fills (a lazy verifier does).
   */
  reserveForCanary(ticketId: string): void {
    this.db
      .prepare(
        "UPDATE audit_tickets SET lease_owner = ?, lease_until_ms = ? WHERE ticket_id = ? AND status = 'queued' AND lease_owner IS NULL",
      )
      .run(CANARY_RESERVE, Number.MAX_SAFE_INTEGER, ticketId);
  }

  reservedForCanaries(): number {
    return (
      this.db
        .prepare("SELECT COUNT(*) AS n FROM audit_tickets WHERE status = 'queued' AND lease_owner = ?")
        .get(CANARY_RESERVE) as { n: number }
    ).n;
  }

  /**
   * A queued ticket within one of the `held` spans that no verifier has leased and no canary copies
   * yet, at random, reserved ones first. It is held back (reserved) until its canary is answered, so
   * no verifier sees the original while a canary of it is out.
   */
  canarySource(held: readonly HeldSpan[], engineVersion: string): QueuedTicket | undefined {
    if (held.length === 0) return undefined;
    const within = withinHeld(held);
    const row = this.db
      .prepare(
        `SELECT ${TICKET_COLUMNS} FROM audit_tickets t
         WHERE status = 'queued' AND (lease_owner IS NULL OR lease_owner = ?) AND engine_version = ? AND (${within.sql})
           AND NOT EXISTS (SELECT 1 FROM audit_canaries c WHERE c.source_ticket_id = t.ticket_id)
         ORDER BY lease_owner IS NULL, RANDOM() LIMIT 1`,
      )
      .get(CANARY_RESERVE, engineVersion, ...within.params) as QueuedTicket | undefined;
    if (row !== undefined)
      this.db
        .prepare('UPDATE audit_tickets SET lease_owner = ?, lease_until_ms = ? WHERE ticket_id = ?')
        .run(CANARY_RESERVE, Number.MAX_SAFE_INTEGER, row.ticketId);
    return row;
  }

  /** Lets the source of an answered canary go to verifiers. */
  releaseCanarySource(canaryId: string): void {
    this.db
      .prepare(
        `UPDATE audit_tickets SET lease_owner = NULL, lease_until_ms = 0 WHERE lease_owner = ?
         AND ticket_id = (SELECT source_ticket_id FROM audit_canaries WHERE canary_id = ?)`,
      )
      .run(CANARY_RESERVE, canaryId);
  }

  /**
   * Lets reserved tickets go to verifiers when their canary's lease ran out unanswered, or when none
   * was made of them within `holdMs` of their arrival: a reserved ticket is not audited.
   */
  releaseCanaryReserve(nowMs: number, holdMs: number): number {
    return this.db
      .prepare(
        `UPDATE audit_tickets AS t SET lease_owner = NULL, lease_until_ms = 0 WHERE t.lease_owner = ? AND t.status = 'queued' AND (
           EXISTS (SELECT 1 FROM audit_canaries c WHERE c.source_ticket_id = t.ticket_id AND c.outcome IS NULL AND c.lease_until_ms < ?)
           OR (t.received_at_ms < ? AND NOT EXISTS (SELECT 1 FROM audit_canaries c WHERE c.source_ticket_id = t.ticket_id)))`,
      )
      .run(CANARY_RESERVE, nowMs, nowMs - holdMs).changes;
  }

  addCanary(c: {
    canaryId: string;
    sourceTicketId: string;
    verifierId: string;
    ticket: Buffer;
    committedOutputHash: string;
    leasedAtMs: number;
    leaseUntilMs: number;
  }): void {
    this.db
      .prepare(
        `INSERT INTO audit_canaries (canary_id, source_ticket_id, verifier_id, ticket, committed_output_hash, leased_at_ms, lease_until_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(c.canaryId, c.sourceTicketId, c.verifierId, c.ticket, c.committedOutputHash, c.leasedAtMs, c.leaseUntilMs);
  }

  canary(
    canaryId: string,
  ):
    | { verifierId: string; committedOutputHash: string; outcome: 'caught' | 'passed' | null; leaseUntilMs: number }
    | undefined {
    return this.db
      .prepare(
        'SELECT verifier_id AS verifierId, committed_output_hash AS committedOutputHash, outcome, lease_until_ms AS leaseUntilMs FROM audit_canaries WHERE canary_id = ?',
      )
      .get(canaryId) as
      | { verifierId: string; committedOutputHash: string; outcome: 'caught' | 'passed' | null; leaseUntilMs: number }
      | undefined;
  }

  /** Records a canary's answer once; false when it was already answered. */
  answerCanary(canaryId: string, outcome: 'caught' | 'passed', nowMs: number): boolean {
    return (
      this.db
        .prepare('UPDATE audit_canaries SET outcome = ?, done_at_ms = ? WHERE canary_id = ? AND outcome IS NULL')
        .run(outcome, nowMs, canaryId).changes === 1
    );
  }

  /** When the verifier last answered a canary honestly (0: never). */
  lastCaughtCanaryMs(verifierId: string): number {
    const row = this.db
      .prepare("SELECT MAX(done_at_ms) AS at FROM audit_canaries WHERE verifier_id = ? AND outcome = 'caught'")
      .get(verifierId) as { at: number | null };
    return row.at ?? 0;
  }

  /** Returns the verifier's passes since `sinceMs` to the queue (its word is no longer taken); how many. */
  requeuePasses(verifierId: string, sinceMs: number): number {
    return this.db
      .prepare(
        `UPDATE audit_tickets SET status = 'queued', done_at_ms = NULL, done_by = NULL, lease_owner = NULL, lease_until_ms = 0
         WHERE status = 'passed' AND done_by = ? AND done_at_ms >= ?`,
      )
      .run(verifierId, sinceMs).changes;
  }

  /** Ends every lease the verifier holds, so that its tickets go to another verifier at once; how many. */
  releaseLeases(verifierId: string): number {
    return this.db
      .prepare(
        "UPDATE audit_tickets SET lease_owner = NULL, lease_until_ms = 0 WHERE status = 'queued' AND lease_owner = ?",
      )
      .run(verifierId).changes;
  }

  /** The Ticket message a queued or passed ticket was received as, or undefined. */
  ticketBytes(ticketId: string): Buffer | undefined {
    return (
      this.db.prepare('SELECT ticket FROM audit_tickets WHERE ticket_id = ?').get(ticketId) as
        { ticket: Buffer } | undefined
    )?.ticket;
  }

  // --- proofs, bans, slashes ---

  proofForTicket(ticketId: string): ProofRecord | undefined {
    return this.db
      .prepare(
        `SELECT proof_id AS proofId, ticket_id AS ticketId, accused, verifier_id AS verifierId, status, recomputed_hash AS recomputedHash,
          registry_hash AS registryHash, detail, proof, at_ms AS atMs FROM audit_proofs WHERE ticket_id = ?`,
      )
      .get(ticketId) as ProofRecord | undefined;
  }

  addProof(p: ProofRecord): void {
    this.db
      .prepare(
        `INSERT INTO audit_proofs (proof_id, ticket_id, accused, verifier_id, status, recomputed_hash, registry_hash, detail, proof, at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        p.proofId,
        p.ticketId,
        p.accused,
        p.verifierId,
        p.status,
        p.recomputedHash,
        p.registryHash,
        p.detail,
        p.proof,
        p.atMs,
      );
  }

  /** Why the node may not rejoin, or undefined. */
  banOf(nodeId: string): { proofId: string; atMs: number } | undefined {
    return this.db
      .prepare('SELECT proof_id AS proofId, at_ms AS atMs FROM audit_bans WHERE node_id = ?')
      .get(nodeId) as { proofId: string; atMs: number } | undefined;
  }

  ban(nodeId: string, proofId: string, nowMs: number): void {
    this.db
      .prepare('INSERT OR IGNORE INTO audit_bans (node_id, proof_id, at_ms) VALUES (?, ?, ?)')
      .run(nodeId, proofId, nowMs);
  }

  /** A slash decided (one per confirmed proof); its amount comes once the back end applies it. */
  decideSlash(proofId: string, nodeId: string, fractionBps: number): void {
    this.db
      .prepare('INSERT OR IGNORE INTO audit_slashes (proof_id, node_id, fraction_bps) VALUES (?, ?, ?)')
      .run(proofId, nodeId, fractionBps);
  }

  pendingSlashes(): { proofId: string; nodeId: string; fractionBps: number }[] {
    return this.db
      .prepare(
        'SELECT proof_id AS proofId, node_id AS nodeId, fraction_bps AS fractionBps FROM audit_slashes WHERE applied_at_ms IS NULL ORDER BY proof_id',
      )
      .all() as {
      proofId: string;
      nodeId: string;
      fractionBps: number;
    }[];
  }

  /** `amount` null: applied earlier, or nothing to take (see the note). */
  slashApplied(proofId: string, amount: bigint | null, note: string, nowMs: number): void {
    this.db
      .prepare('UPDATE audit_slashes SET amount = ?, applied_at_ms = ?, note = ? WHERE proof_id = ?')
      .run(amount === null ? null : amount.toString(), nowMs, note, proofId);
  }

  slashAmount(proofId: string): string | undefined {
    const row = this.db.prepare('SELECT amount FROM audit_slashes WHERE proof_id = ?').get(proofId) as
      { amount: string | null } | undefined;
    return row?.amount ?? undefined;
  }

  // --- audit requests ---

  hasRequest(ticketId: string): boolean {
    return this.db.prepare('SELECT 1 FROM audit_requests WHERE ticket_id = ?').get(ticketId) !== undefined;
  }

  addRequest(r: {
    ticketId: string;
    nodeId: string;
    shardIndex: number;
    shardEnd: number;
    client: string;
    requestedAtMs: number;
    dueByMs: number;
    request: Buffer;
  }): void {
    this.db
      .prepare(
        'INSERT INTO audit_requests (ticket_id, node_id, shard_index, shard_end, client, requested_at_ms, due_by_ms, request) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(r.ticketId, r.nodeId, r.shardIndex, r.shardEnd, r.client, r.requestedAtMs, r.dueByMs, r.request);
  }

  /** The node's open requests, earliest due first. */
  openRequestsFor(nodeId: string, max: number): OpenRequest[] {
    return this.db
      .prepare(
        `SELECT ${OPEN_COLUMNS} FROM audit_requests r WHERE r.node_id = ? AND ${OPEN_REQUEST} ORDER BY r.due_by_ms, r.ticket_id LIMIT ?`,
      )
      .all(nodeId, max) as OpenRequest[];
  }

  /** Open requests whose deadline passed before `nowMs`. */
  overdueRequests(nowMs: number): OpenRequest[] {
    return this.db
      .prepare(
        `SELECT ${OPEN_COLUMNS} FROM audit_requests r WHERE r.due_by_ms < ? AND ${OPEN_REQUEST} ORDER BY r.due_by_ms, r.ticket_id`,
      )
      .all(nowMs) as OpenRequest[];
  }

  /** Gives every open request until at least `dueByMs`; returns how many moved. */
  extendOpenRequests(dueByMs: number): number {
    return this.db
      .prepare(`UPDATE audit_requests AS r SET due_by_ms = ? WHERE r.due_by_ms < ? AND ${OPEN_REQUEST}`)
      .run(dueByMs, dueByMs).changes;
  }

  /** Records a decided refusal; false when one was already on record for this request. */
  addRefusal(r: {
    ticketId: string;
    nodeId: string;
    evidenceId: string;
    fractionBps: number;
    excuse: string;
    atMs: number;
  }): boolean {
    return (
      this.db
        .prepare(
          'INSERT OR IGNORE INTO audit_refusals (ticket_id, node_id, evidence_id, fraction_bps, excuse, at_ms) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(r.ticketId, r.nodeId, r.evidenceId, r.fractionBps, r.excuse, r.atMs).changes === 1
    );
  }

  // --- reports ---

  counts(nodeId: string, nowMs: number): AuditCounts {
    const tickets = Object.fromEntries(
      (
        this.db
          .prepare('SELECT status, COUNT(*) AS n FROM audit_tickets WHERE node_id = ? GROUP BY status')
          .all(nodeId) as { status: string; n: number }[]
      ).map((r) => [r.status, r.n]),
    );
    const proofs = Object.fromEntries(
      (
        this.db
          .prepare('SELECT status, COUNT(*) AS n FROM audit_proofs WHERE accused = ? GROUP BY status')
          .all(nodeId) as { status: string; n: number }[]
      ).map((r) => [r.status, r.n]),
    );
    const open = `SELECT COUNT(*) AS n FROM audit_requests r WHERE r.node_id = ? AND ${OPEN_REQUEST}`;
    const decided = (
      this.db.prepare("SELECT COUNT(*) AS n FROM audit_refusals WHERE node_id = ? AND excuse = ''").get(nodeId) as {
        n: number;
      }
    ).n;
    const refusals = decided + (this.db.prepare(`${open} AND r.due_by_ms < ?`).get(nodeId, nowMs) as { n: number }).n;
    const pending = (this.db.prepare(`${open} AND r.due_by_ms >= ?`).get(nodeId, nowMs) as { n: number }).n;
    const amounts = this.db
      .prepare('SELECT amount FROM audit_slashes WHERE node_id = ? AND amount IS NOT NULL')
      .all(nodeId) as { amount: string }[];
    return {
      ticketsQueued: tickets.queued ?? 0,
      ticketsPassed: tickets.passed ?? 0,
      proofsConfirmed: proofs.confirmed ?? 0,
      proofsUnconfirmed: proofs.unconfirmed ?? 0,
      proofsRefuted: proofs.refuted ?? 0,
      refusals,
      requestsPending: pending,
      banned: this.banOf(nodeId) !== undefined,
      slashedAmount: amounts.reduce((sum, r) => sum + BigInt(r.amount), 0n).toString(),
    };
  }
}
