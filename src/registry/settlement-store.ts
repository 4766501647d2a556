import type Database from 'better-sqlite3';
import type { Hash32 } from './settlement-backend.ts';

/**
 * Where a window stands at this registry: `posting` is written before the back end is asked to post
 * (so a crash in between is resolved by asking the back end, never by posting a second settlement
 * for the window), `challenged` windows are settled again without the nodes a fraud proof withheld.
 */
export type WindowStatus = 'posting' | 'posted' | 'challenged' | 'finalized' | 'empty';

export interface WindowRecord {
  readonly window: number;
  readonly hash: Hash32;
  readonly status: WindowStatus;
  /** Nodes whose part of the window is not paid (a confirmed fraud proof), sorted. */
  readonly withheld: readonly string[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS settlement_windows (
  window INTEGER PRIMARY KEY,
  hash TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('posting', 'posted', 'challenged', 'finalized', 'empty')),
  withheld TEXT NOT NULL,
  updated_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS settlement_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/** The registry's record of its settlements, in its own SQLite file (synchronous=FULL, as the registry's store). */
export class SettlementStore {
  constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA);
  }

  window(window: number): WindowRecord | undefined {
    const row = this.db
      .prepare('SELECT window, hash, status, withheld FROM settlement_windows WHERE window = ?')
      .get(window) as { window: number; hash: Hash32; status: WindowStatus; withheld: string } | undefined;
    return row === undefined ? undefined : { ...row, withheld: JSON.parse(row.withheld) as string[] };
  }

  /** Windows in one of `statuses`, oldest first. */
  windows(statuses: readonly WindowStatus[]): WindowRecord[] {
    const rows = this.db
      .prepare(
        `SELECT window, hash, status, withheld FROM settlement_windows WHERE status IN (${statuses.map(() => '?').join(',')}) ORDER BY window`,
      )
      .all(...statuses) as { window: number; hash: Hash32; status: WindowStatus; withheld: string }[];
    return rows.map((r) => ({ ...r, withheld: JSON.parse(r.withheld) as string[] }));
  }

  /** The settlement hash of the latest window posted or finalized: public, and fixed once posted. */
  latestHash(): Hash32 | undefined {
    const row = this.db
      .prepare(
        "SELECT hash FROM settlement_windows WHERE status IN ('posted', 'finalized') ORDER BY window DESC LIMIT 1",
      )
      .get() as { hash: Hash32 } | undefined;
    return row?.hash;
  }

  /** The first window this registry has not settled yet (challenged ones are found by windows()). */
  nextWindow(): number {
    const row = this.db.prepare('SELECT MAX(window) AS w FROM settlement_windows').get() as { w: number | null };
    return row.w === null ? 0 : row.w + 1;
  }

  put(record: WindowRecord): void {
    this.db
      .prepare(
        `INSERT INTO settlement_windows (window, hash, status, withheld, updated_at_ms) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (window) DO UPDATE SET hash = excluded.hash, status = excluded.status, withheld = excluded.withheld, updated_at_ms = excluded.updated_at_ms`,
      )
      .run(record.window, record.hash, record.status, JSON.stringify(record.withheld), Date.now());
  }

  /** The genesis hash of the chain this registry settles: the first it settled, for good. */
  pinnedGenesis(): string | undefined {
    return (
      this.db.prepare("SELECT value FROM settlement_meta WHERE key = 'genesis'").get() as { value: string } | undefined
    )?.value;
  }

  pinGenesis(hash: string): void {
    this.db.prepare("INSERT OR IGNORE INTO settlement_meta (key, value) VALUES ('genesis', ?)").run(hash);
  }
}
