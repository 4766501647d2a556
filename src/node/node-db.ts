import { hex } from '../crypto/hash.ts';
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SignedCommitment } from '../protocol/commitment.ts';
import type { SignedRecord } from '../protocol/record.ts';
import type { TicketInputBytes, TicketInputShape } from '../protocol/ticket.ts';

/** A kept audit step as stored: its row id names it for deletion. */
export interface StoredAuditStep {
  readonly rowId: number;
  readonly sessionId: string;
  readonly input: TicketInputBytes;
  readonly commitment: SignedCommitment;
  readonly atMs: number;
}

export interface StoredShare {
  readonly rowId: number;
  readonly share: Uint8Array;
  readonly receipt: SignedRecord;
}

/** Where kept audit steps live between restarts. */
export interface AuditStepStore {
  insert(step: Omit<StoredAuditStep, 'rowId'>): number;
  delete(rowId: number): void;
  all(): StoredAuditStep[];
}

/** Where shares acknowledged to no daemon yet live between restarts. */
export interface ShareStore {
  insert(shares: readonly Uint8Array[], receipt: SignedRecord): number[];
  delete(rowIds: readonly number[]): void;
  all(): StoredShare[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit_steps (
  row_id INTEGER PRIMARY KEY,
  session_id TEXT NOT NULL,
  input_shape TEXT NOT NULL,
  input_bytes BLOB NOT NULL,
  commitment TEXT NOT NULL,
  signature BLOB NOT NULL,
  at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS receipts (
  receipt_id INTEGER PRIMARY KEY,
  payload BLOB NOT NULL,
  signature BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS shares (
  row_id INTEGER PRIMARY KEY,
  share BLOB NOT NULL,
  receipt_id INTEGER NOT NULL REFERENCES receipts(receipt_id)
);
CREATE INDEX IF NOT EXISTS shares_by_receipt ON shares (receipt_id);
`;

const bytesOf = (text: string) => new Uint8Array(Buffer.from(text, 'hex'));

/**
 * The node's durable state (node.db in its data directory): the audit steps it may still owe
 * tickets for, and the shares it earned that no daemon has acknowledged. Both are written before the
 * node answers for them, so a node killed and restarted with the same directory still owes and
 * sends exactly what it did before.
 */
export class NodeDb {
  readonly audits: AuditStepStore;
  readonly shares: ShareStore;
  private readonly db: Database.Database;
  /** Work still finishing as the node stops (a ticket answered late) must not write to a closed file. */
  private closed = false;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.db = new Database(join(dataDir, 'node.db'));
    // WAL: a committed write survives the process being killed; fsync per commit is not needed for that.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    this.audits = this.auditStore();
    this.shares = this.shareStore();
  }

  close(): void {
    this.closed = true;
    this.db.close();
  }

  private auditStore(): AuditStepStore {
    const insert = this.db.prepare(
      'INSERT INTO audit_steps (session_id, input_shape, input_bytes, commitment, signature, at_ms) VALUES (?, ?, ?, ?, ?, ?)',
    );
    const remove = this.db.prepare('DELETE FROM audit_steps WHERE row_id = ?');
    const select = this.db.prepare('SELECT * FROM audit_steps ORDER BY row_id');
    return {
      insert: (step) => {
        const { bytes, ...shape } = step.input;
        const { signature, stepId, inputHash, outputHash, auditCommitment, resultHash, relayedHash, ...fields } =
          step.commitment;
        const commitment = JSON.stringify({
          ...fields,
          stepId: hex(stepId),
          inputHash: hex(inputHash),
          outputHash: hex(outputHash),
          auditCommitment: hex(auditCommitment),
          resultHash: hex(resultHash ?? new Uint8Array(0)),
          relayedHash: hex(relayedHash ?? new Uint8Array(0)),
        });
        const info = insert.run(
          step.sessionId,
          JSON.stringify(shape),
          Buffer.from(bytes),
          commitment,
          Buffer.from(signature),
          step.atMs,
        );
        return Number(info.lastInsertRowid);
      },
      delete: (rowId) => {
        if (!this.closed) remove.run(rowId);
      },
      all: () =>
        (select.all() as AuditRow[]).map((row) => {
          const c = JSON.parse(row.commitment) as Record<string, unknown>;
          return {
            rowId: row.row_id,
            sessionId: row.session_id,
            input: { ...(JSON.parse(row.input_shape) as TicketInputShape), bytes: new Uint8Array(row.input_bytes) },
            commitment: {
              nodeId: String(c.nodeId),
              shardIndex: Number(c.shardIndex),
              // rows kept before commitments named a span ran one shard
              shardEnd: c.shardEnd === undefined ? Number(c.shardIndex) + 1 : Number(c.shardEnd),
              timestampMs: Number(c.timestampMs),
              stepId: bytesOf(String(c.stepId)),
              inputHash: bytesOf(String(c.inputHash)),
              outputHash: bytesOf(String(c.outputHash)),
              auditCommitment: bytesOf(String(c.auditCommitment)),
              // rows kept before commitments covered results have none
              resultHash: bytesOf(String(c.resultHash ?? '')),
              // rows kept before relays signed what they relayed have none
              relayedHash: bytesOf(String(c.relayedHash ?? '')),
              signature: new Uint8Array(row.signature),
            },
            atMs: row.at_ms,
          };
        }),
    };
  }

  private shareStore(): ShareStore {
    const insertReceipt = this.db.prepare('INSERT INTO receipts (payload, signature) VALUES (?, ?)');
    const insertShare = this.db.prepare('INSERT INTO shares (share, receipt_id) VALUES (?, ?)');
    const removeShare = this.db.prepare('DELETE FROM shares WHERE row_id = ?');
    const removeOrphans = this.db.prepare(
      'DELETE FROM receipts WHERE receipt_id NOT IN (SELECT DISTINCT receipt_id FROM shares)',
    );
    const select = this.db.prepare(
      'SELECT s.row_id, s.share, r.receipt_id, r.payload, r.signature FROM shares s JOIN receipts r USING (receipt_id) ORDER BY s.row_id',
    );
    const insertAll = this.db.transaction((shares: readonly Uint8Array[], receipt: SignedRecord) => {
      const receiptId = insertReceipt.run(Buffer.from(receipt.payload), Buffer.from(receipt.signature)).lastInsertRowid;
      return shares.map((share) => Number(insertShare.run(Buffer.from(share), receiptId).lastInsertRowid));
    });
    const deleteAll = this.db.transaction((rowIds: readonly number[]) => {
      for (const rowId of rowIds) removeShare.run(rowId);
      removeOrphans.run();
    });
    return {
      insert: (shares, receipt) => insertAll(shares, receipt),
      delete: (rowIds) => {
        if (rowIds.length > 0 && !this.closed) deleteAll(rowIds);
      },
      all: () => {
        const receipts = new Map<number, SignedRecord>();
        return (select.all() as ShareRow[]).map((row) => {
          let receipt = receipts.get(row.receipt_id);
          if (!receipt) {
            receipt = { payload: new Uint8Array(row.payload), signature: new Uint8Array(row.signature) };
            receipts.set(row.receipt_id, receipt);
          }
          return { rowId: row.row_id, share: new Uint8Array(row.share), receipt };
        });
      },
    };
  }
}

interface AuditRow {
  row_id: number;
  session_id: string;
  input_shape: string;
  input_bytes: Buffer;
  commitment: string;
  signature: Buffer;
  at_ms: number;
}

interface ShareRow {
  row_id: number;
  share: Buffer;
  receipt_id: number;
  payload: Buffer;
  signature: Buffer;
}
