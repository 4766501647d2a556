import { closeSync, fdatasync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Block } from './block.ts';

/** Where a share stands: seen only in a block off the canonical chain, waiting for a block, or in one. */
export const ShareState = { Side: 0, Pending: 1, Chain: 2 } as const;
export type ShareState = (typeof ShareState)[keyof typeof ShareState];

/** A stored share: what was inserted (NewShare), read back, with where it stands. */
export interface ShareRow extends Omit<NewShare, 'payload'> {
  readonly payload: Buffer;
  readonly state: ShareState;
}

export interface ReceiptRow {
  readonly hash: Buffer;
  readonly payload: Buffer;
  readonly signature: Buffer;
  readonly sessionHash: string;
  readonly modelId: string;
  readonly client: string;
  /** JSON array, as in the receipt. */
  readonly tokensPerShard: string;
}

export type ShareClaim = Pick<ShareRow, 'hash' | 'sessionHash' | 'shardIndex' | 'receiptHash' | 'tokens' | 'state'>;

/** A block's share as the block links it: the share and the statement the block carries for it. */
export interface ShareLink {
  readonly hash: Uint8Array;
  readonly statement: Uint8Array;
}

export interface StatementRow {
  readonly hash: Buffer;
  readonly payload: Buffer;
  readonly signature: Buffer;
}

export interface BlockRow {
  readonly hash: Buffer;
  readonly height: number;
  readonly parent: Buffer;
  readonly slot: number;
  readonly producer: string;
  readonly header: Buffer;
  readonly signature: Buffer;
  readonly shareCount: number;
  readonly baseFee: number;
  readonly canonical: number;
}

export interface UsageTotals {
  readonly chain: number;
  readonly pending: number;
}

/** The shares one client's receipts back for one node in one block, and that block's price. */
export interface FlowRow {
  readonly client: string;
  readonly nodeId: string;
  readonly shares: number;
  readonly tokens: number;
  readonly baseFee: number;
}

/** 2: shares signed per batch (statements), no signature of their own. 3: shares carry no weight. */
const SCHEMA_VERSION = 3;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS blocks (
  hash BLOB PRIMARY KEY,
  height INTEGER NOT NULL,
  parent BLOB NOT NULL,
  slot INTEGER NOT NULL,
  producer TEXT NOT NULL,
  header BLOB NOT NULL,
  signature BLOB NOT NULL,
  share_count INTEGER NOT NULL,
  base_fee INTEGER NOT NULL,
  canonical INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS blocks_by_parent ON blocks (parent);
CREATE INDEX IF NOT EXISTS blocks_by_slot ON blocks (slot, producer);
CREATE TABLE IF NOT EXISTS rosters (hash BLOB PRIMARY KEY, epoch INTEGER NOT NULL, payload BLOB NOT NULL, signature BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS rosters_by_epoch ON rosters (epoch);
CREATE TABLE IF NOT EXISTS signer (id INTEGER PRIMARY KEY CHECK (id = 1), last_slot INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS equivocations (
  evidence BLOB PRIMARY KEY,
  producer TEXT NOT NULL,
  slot INTEGER NOT NULL,
  first_header BLOB NOT NULL,
  first_signature BLOB NOT NULL,
  second_header BLOB NOT NULL,
  second_signature BLOB NOT NULL,
  reported INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS chain (height INTEGER PRIMARY KEY, hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS block_shares (block BLOB NOT NULL, idx INTEGER NOT NULL, share BLOB NOT NULL, statement BLOB NOT NULL, PRIMARY KEY (block, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS block_receipts (block BLOB NOT NULL, receipt BLOB NOT NULL, PRIMARY KEY (block, receipt)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS block_statements (block BLOB NOT NULL, statement BLOB NOT NULL, PRIMARY KEY (block, statement)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS statements (hash BLOB PRIMARY KEY, payload BLOB NOT NULL, signature BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS shares (
  hash BLOB PRIMARY KEY,
  seq INTEGER NOT NULL,
  payload BLOB NOT NULL,
  statement BLOB NOT NULL,
  node_id TEXT NOT NULL,
  shard_index INTEGER NOT NULL,
  session_hash TEXT NOT NULL,
  receipt_hash BLOB NOT NULL,
  tokens INTEGER NOT NULL,
  state INTEGER NOT NULL,
  height INTEGER
);
CREATE INDEX IF NOT EXISTS shares_pending ON shares (seq) WHERE state = 1;
CREATE INDEX IF NOT EXISTS shares_by_height ON shares (height) WHERE state = 2;
CREATE TABLE IF NOT EXISTS receipts (
  hash BLOB PRIMARY KEY,
  payload BLOB NOT NULL,
  signature BLOB NOT NULL,
  session_hash TEXT NOT NULL,
  model_id TEXT NOT NULL,
  client TEXT NOT NULL,
  tokens_per_shard TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS usage (
  session_hash TEXT NOT NULL,
  shard_index INTEGER NOT NULL,
  chain_tokens INTEGER NOT NULL,
  pending_tokens INTEGER NOT NULL,
  PRIMARY KEY (session_hash, shard_index)
) WITHOUT ROWID;
`;

const shareColumns = (
  t: string,
  statement: string,
) => `${t}.hash, ${t}.payload, ${statement} AS statement, ${t}.node_id AS nodeId, ${t}.shard_index AS shardIndex,
  ${t}.session_hash AS sessionHash, ${t}.receipt_hash AS receiptHash, ${t}.tokens, ${t}.state`;
const receiptColumns = (
  t: string,
) => `${t}.hash, ${t}.payload, ${t}.signature, ${t}.session_hash AS sessionHash, ${t}.model_id AS modelId,
  ${t}.client, ${t}.tokens_per_shard AS tokensPerShard`;
const BLOCK_COLUMNS =
  'hash, height, parent, slot, producer, header, signature, share_count AS shareCount, base_fee AS baseFee, canonical';

/**
 * A daemon's chain in one SQLite file: every block it holds (canonical or not), every share it
 * accepted or saw in a block, the receipts and share-batch statements behind them, and per session
 * and route position the tokens claimed on the canonical chain and waiting for a block. Its
 * shard_index columns are that position (a share's hop in its receipt's route), never a node's
 * shards: the chain keeps no node's span, the registry answers it (Membership).
 *
 * WAL with synchronous=NORMAL, and `sync()` to make commits durable: a committed transaction is in
 * the WAL file (it survives a crash of the process) but on disk only once the WAL is synced. SQLite's
 * FULL would fsync inside every commit, on the daemon's only thread; `sync()` runs the fdatasync on
 * libuv's thread pool while the daemon checks the next shares, and one sync covers every commit
 * before it. A share is acknowledged only after a sync that followed its commit, so it survives a
 * power cut too. (Checkpoints with NORMAL sync the WAL before and the database after copying, so a
 * commit that leaves the WAL for the database stays durable.)
 */
export class ChainStore {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();
  /** The WAL file, opened for fdatasync. */
  readonly #wal: number;
  #syncs = 0;
  #closed = false;
  #seq: number;

  constructor(path: string) {
    this.#db = new Database(path);
    try {
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = NORMAL');
      const version = this.#db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION)
        throw new Error(
          `${path} has chain schema version ${version}; this tessera knows up to ${SCHEMA_VERSION}: upgrade tessera`,
        );
      if (version !== 0 && version < SCHEMA_VERSION) {
        throw new Error(
          `${path} has chain schema version ${version}; this tessera keeps version ${SCHEMA_VERSION} (shares without weight, blocks by slot leaders): delete ${path} or run an older tessera`,
        );
      }
      this.#db.exec(SCHEMA);
      // Writing the version also makes sure the WAL file exists before it is opened.
      this.#db.pragma(`user_version = ${SCHEMA_VERSION}`);
      this.#wal = openSync(`${path}-wal`, 'r');
    } catch (error) {
      this.#db.close();
      throw error;
    }
    this.#seq = (this.#db.prepare('SELECT COALESCE(MAX(seq), 0) AS s FROM shares').get() as { s: number }).s;
  }

  close(): void {
    this.#db.close();
    if (this.#syncs === 0) closeSync(this.#wal);
    else this.#closed = true;
  }

  /** Resolves once every transaction committed before the call is on disk (an fdatasync of the WAL, off the calling thread). */
  sync(): Promise<void> {
    this.#syncs++;
    return new Promise((resolve, reject) => {
      fdatasync(this.#wal, (error) => {
        // A sync in flight keeps the WAL file open past close().
        if (--this.#syncs === 0 && this.#closed) closeSync(this.#wal);
        if (error) reject(error);
        else resolve();
      });
    });
  }

  transaction<T>(work: () => T): T {
    return this.#db.transaction(work)();
  }

  #statement(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  // --- blocks ---

  block(hash: Uint8Array): BlockRow | undefined {
    return this.#statement(`SELECT ${BLOCK_COLUMNS} FROM blocks WHERE hash = ?`).get(hash) as BlockRow | undefined;
  }

  canonicalHash(height: number): Buffer | undefined {
    return (this.#statement('SELECT hash FROM chain WHERE height = ?').get(height) as { hash: Buffer } | undefined)
      ?.hash;
  }

  headHeight(): number {
    return (this.#statement('SELECT MAX(height) AS h FROM chain').get() as { h: number | null }).h ?? -1;
  }

  /**
   * Stores a block off the canonical chain, linked to its shares (each with the statement the block
   * carries for it; the caller stores shares new here first) and to its receipts and statements.
   */
  insertBlock(
    block: Block,
    shares: readonly ShareLink[],
    receipts: readonly NewReceipt[],
    statements: readonly NewStatement[],
  ): void {
    const h = block.header;
    this.#statement(
      'INSERT INTO blocks (hash, height, parent, slot, producer, header, signature, share_count, base_fee, canonical) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)',
    ).run(
      block.hash,
      h.height,
      Buffer.from(h.parentHash, 'hex'),
      h.slot,
      h.producer,
      block.signedHeader.payload,
      block.signedHeader.signature,
      h.shareCount,
      h.baseFeePerToken,
    );
    const link = this.#statement('INSERT INTO block_shares (block, idx, share, statement) VALUES (?, ?, ?, ?)');
    shares.forEach((share, idx) => link.run(block.hash, idx, share.hash, share.statement));
    for (const receipt of receipts) {
      this.#statement('INSERT OR IGNORE INTO block_receipts (block, receipt) VALUES (?, ?)').run(
        block.hash,
        receipt.hash,
      );
      this.insertReceipt(receipt);
    }
    for (const statement of statements) {
      this.#statement('INSERT OR IGNORE INTO block_statements (block, statement) VALUES (?, ?)').run(
        block.hash,
        statement.hash,
      );
      this.insertStatement(statement);
    }
  }

  /** Removes a block that turned out invalid, with everything built on it. */
  deleteBlockAndDescendants(hash: Uint8Array): number {
    let removed = 0;
    const queue: Buffer[] = [Buffer.from(hash)];
    while (queue.length > 0) {
      const next = queue.pop()!;
      for (const child of this.#statement('SELECT hash FROM blocks WHERE parent = ?').all(next) as { hash: Buffer }[])
        queue.push(child.hash);
      this.#statement('DELETE FROM block_shares WHERE block = ?').run(next);
      this.#statement('DELETE FROM block_receipts WHERE block = ?').run(next);
      this.#statement('DELETE FROM block_statements WHERE block = ?').run(next);
      removed += this.#statement('DELETE FROM blocks WHERE hash = ? AND canonical = 0').run(next).changes;
    }
    return removed;
  }

  setCanonical(hash: Uint8Array, height: number): void {
    this.#statement('UPDATE blocks SET canonical = 1 WHERE hash = ?').run(hash);
    this.#statement('INSERT OR REPLACE INTO chain (height, hash) VALUES (?, ?)').run(height, hash);
  }

  unsetCanonical(hash: Uint8Array, height: number): void {
    this.#statement('UPDATE blocks SET canonical = 0 WHERE hash = ?').run(hash);
    this.#statement('DELETE FROM chain WHERE height = ?').run(height);
  }

  blockShareRows(hash: Uint8Array): ShareRow[] {
    return this.#statement(
      `SELECT ${shareColumns('s', 'b.statement')} FROM block_shares b JOIN shares s ON s.hash = b.share WHERE b.block = ? ORDER BY b.idx`,
    ).all(hash) as ShareRow[];
  }

  /** What a block's shares claim of their receipts, in block order: what applying or unapplying it needs. */
  blockShareClaims(hash: Uint8Array): ShareClaim[] {
    return this.#statement(
      `SELECT s.hash, s.session_hash AS sessionHash, s.shard_index AS shardIndex, s.receipt_hash AS receiptHash, s.tokens, s.state
       FROM block_shares b JOIN shares s ON s.hash = b.share WHERE b.block = ? ORDER BY b.idx`,
    ).all(hash) as ShareClaim[];
  }

  /** Sets the state of every share of a block: one statement, not one per share. */
  setBlockShareStates(block: Uint8Array, state: ShareState, height: number | null): void {
    this.#statement(
      'UPDATE shares SET state = ?, height = ? WHERE hash IN (SELECT share FROM block_shares WHERE block = ?)',
    ).run(state, height, block);
  }

  blockStatementRows(hash: Uint8Array): StatementRow[] {
    return this.#statement(
      'SELECT s.hash, s.payload, s.signature FROM block_statements b JOIN statements s ON s.hash = b.statement WHERE b.block = ? ORDER BY s.hash',
    ).all(hash) as StatementRow[];
  }

  blockReceiptRows(hash: Uint8Array): ReceiptRow[] {
    return this.#statement(
      `SELECT ${receiptColumns('r')} FROM block_receipts b JOIN receipts r ON r.hash = b.receipt WHERE b.block = ? ORDER BY r.hash`,
    ).all(hash) as ReceiptRow[];
  }

  /** Blocks of one producer for one slot: more than one is equivocation. */
  blocksOfSlot(slot: number, producer: string): BlockRow[] {
    return this.#statement(`SELECT ${BLOCK_COLUMNS} FROM blocks WHERE slot = ? AND producer = ?`).all(
      slot,
      producer,
    ) as BlockRow[];
  }

  // --- rosters and the signer's record ---

  insertRoster(roster: RosterRow): void {
    this.#statement('INSERT OR IGNORE INTO rosters (hash, epoch, payload, signature) VALUES (?, ?, ?, ?)').run(
      roster.hash,
      roster.epoch,
      roster.payload,
      roster.signature,
    );
  }

  roster(hash: Uint8Array): RosterRow | undefined {
    return this.#statement('SELECT hash, epoch, payload, signature FROM rosters WHERE hash = ?').get(hash) as
      RosterRow | undefined;
  }

  /** A roster held for `epoch` (the one the registry gave, or one a block carried): what a daemon falls back on while the registry is away. */
  rosterOfEpoch(epoch: number): RosterRow | undefined {
    return this.#statement(
      'SELECT hash, epoch, payload, signature FROM rosters WHERE epoch = ? ORDER BY hash LIMIT 1',
    ).get(epoch) as RosterRow | undefined;
  }

  /** The last slot this daemon signed a block for (-1: none): it never signs a second block for a slot. */
  lastSignedSlot(): number {
    return (
      (this.#statement('SELECT last_slot FROM signer WHERE id = 1').get() as { last_slot: number } | undefined)
        ?.last_slot ?? -1
    );
  }

  setLastSignedSlot(slot: number): void {
    this.#statement(
      'INSERT INTO signer (id, last_slot) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET last_slot = excluded.last_slot',
    ).run(slot);
  }

  /** Keeps two headers of one producer for one slot; false when this evidence is held already. */
  insertEquivocation(evidence: EquivocationRow): boolean {
    return (
      this.#statement(
        `INSERT INTO equivocations (evidence, producer, slot, first_header, first_signature, second_header, second_signature)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (evidence) DO NOTHING`,
      ).run(
        evidence.evidence,
        evidence.producer,
        evidence.slot,
        evidence.first.payload,
        evidence.first.signature,
        evidence.second.payload,
        evidence.second.signature,
      ).changes === 1
    );
  }

  /** Evidence not yet taken by the registry. */
  unreportedEquivocations(): EquivocationRow[] {
    const rows = this.#statement(
      `SELECT evidence, producer, slot, first_header, first_signature, second_header, second_signature
       FROM equivocations WHERE reported = 0`,
    ).all() as {
      evidence: Buffer;
      producer: string;
      slot: number;
      first_header: Buffer;
      first_signature: Buffer;
      second_header: Buffer;
      second_signature: Buffer;
    }[];
    return rows.map((r) => ({
      evidence: r.evidence,
      producer: r.producer,
      slot: r.slot,
      first: { payload: r.first_header, signature: r.first_signature },
      second: { payload: r.second_header, signature: r.second_signature },
    }));
  }

  markEquivocationReported(evidence: Uint8Array): void {
    this.#statement('UPDATE equivocations SET reported = 1 WHERE evidence = ?').run(evidence);
  }

  // --- shares ---

  shareState(hash: Uint8Array): ShareState | undefined {
    return (this.#statement('SELECT state FROM shares WHERE hash = ?').get(hash) as { state: ShareState } | undefined)
      ?.state;
  }

  /** Inserts a share not held yet, in `state`, and says whether it did; a share already held keeps its state. */
  insertShare(share: NewShare, state: ShareState): boolean {
    return (
      this.#statement(
        `INSERT INTO shares (hash, seq, payload, statement, node_id, shard_index, session_hash, receipt_hash, tokens, state, height)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL) ON CONFLICT (hash) DO NOTHING`,
      ).run(
        share.hash,
        ++this.#seq,
        share.payload,
        share.statement,
        share.nodeId,
        share.shardIndex,
        share.sessionHash,
        share.receiptHash,
        share.tokens,
        state,
      ).changes === 1
    );
  }

  deleteShare(hash: Uint8Array): void {
    this.#statement('DELETE FROM shares WHERE hash = ?').run(hash);
  }

  setShareState(hash: Uint8Array, state: ShareState, height: number | null): void {
    this.#statement('UPDATE shares SET state = ?, height = ? WHERE hash = ?').run(state, height, hash);
  }

  /** Accepted shares not in a canonical block, oldest first. */
  pendingShares(limit: number): ShareRow[] {
    return this.#statement(
      `SELECT ${shareColumns('shares', 'shares.statement')} FROM shares WHERE state = 1 ORDER BY seq LIMIT ?`,
    ).all(limit) as ShareRow[];
  }

  pendingCount(): number {
    return (this.#statement('SELECT COUNT(*) AS n FROM shares WHERE state = 1').get() as { n: number }).n;
  }

  // --- statements, receipts and usage ---

  statement(hash: Uint8Array): StatementRow | undefined {
    return this.#statement('SELECT hash, payload, signature FROM statements WHERE hash = ?').get(hash) as
      StatementRow | undefined;
  }

  insertStatement(statement: NewStatement): void {
    this.#statement(
      'INSERT INTO statements (hash, payload, signature) VALUES (?, ?, ?) ON CONFLICT (hash) DO NOTHING',
    ).run(statement.hash, statement.payload, statement.signature);
  }

  receipt(hash: Uint8Array): ReceiptRow | undefined {
    return this.#statement(`SELECT ${receiptColumns('receipts')} FROM receipts WHERE hash = ?`).get(hash) as
      ReceiptRow | undefined;
  }

  insertReceipt(receipt: NewReceipt): void {
    this.#statement(
      'INSERT INTO receipts (hash, payload, signature, session_hash, model_id, client, tokens_per_shard) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING',
    ).run(
      receipt.hash,
      receipt.payload,
      receipt.signature,
      receipt.sessionHash,
      receipt.modelId,
      receipt.client,
      receipt.tokensPerShard,
    );
  }

  usage(sessionHash: string, shardIndex: number): UsageTotals {
    const row = this.#statement(
      'SELECT chain_tokens AS chain, pending_tokens AS pending FROM usage WHERE session_hash = ? AND shard_index = ?',
    ).get(sessionHash, shardIndex) as UsageTotals | undefined;
    return row ?? { chain: 0, pending: 0 };
  }

  addUsage(sessionHash: string, shardIndex: number, chain: number, pending: number): void {
    this.#statement(
      `INSERT INTO usage (session_hash, shard_index, chain_tokens, pending_tokens) VALUES (?, ?, ?, ?)
       ON CONFLICT (session_hash, shard_index) DO UPDATE SET chain_tokens = chain_tokens + excluded.chain_tokens, pending_tokens = pending_tokens + excluded.pending_tokens`,
    ).run(sessionHash, shardIndex, chain, pending);
  }

  // --- settlement ---

  /**
   * The canonical shares between the heights, per client, node and block. Token sums stay per block
   * (below 2^40, exact in SQLite): the products with the fee are taken in BigInt by summary.ts.
   */
  flowRows(fromHeight: number, toHeight: number): FlowRow[] {
    return this.#statement(
      `SELECT r.client AS client, s.node_id AS nodeId, COUNT(*) AS shares, SUM(s.tokens) AS tokens, b.base_fee AS baseFee
       FROM shares s JOIN receipts r ON r.hash = s.receipt_hash JOIN chain c ON c.height = s.height JOIN blocks b ON b.hash = c.hash
       WHERE s.state = 2 AND s.height BETWEEN ? AND ? GROUP BY r.client, s.node_id, s.height`,
    ).all(fromHeight, toHeight) as FlowRow[];
  }
}

/** A share as stored: its bytes, the statement that signs it, and the fields the chain's bookkeeping reads. */
export interface NewShare {
  readonly hash: Buffer;
  readonly payload: Uint8Array;
  /** The hash of a statement of the share's node that lists it: in a block, the one that block carries. */
  readonly statement: Buffer;
  readonly nodeId: string;
  /** The share's position in its receipt's route (its hop). */
  readonly shardIndex: number;
  readonly sessionHash: string;
  readonly receiptHash: Buffer;
  readonly tokens: number;
}

export interface RosterRow {
  readonly hash: Buffer;
  readonly epoch: number;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

/** Two headers one producer signed for one slot; `evidence` is sha256 of their two hashes, sorted. */
export interface EquivocationRow {
  readonly evidence: Buffer;
  readonly producer: string;
  readonly slot: number;
  readonly first: { readonly payload: Uint8Array; readonly signature: Uint8Array };
  readonly second: { readonly payload: Uint8Array; readonly signature: Uint8Array };
}

export interface NewReceipt {
  readonly hash: Buffer;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
  readonly sessionHash: string;
  readonly modelId: string;
  readonly client: string;
  readonly tokensPerShard: string;
}

export interface NewStatement {
  readonly hash: Buffer;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}
