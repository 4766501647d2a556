import { TesseraError } from '../core/errors.ts';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  checkAmount,
  checkFraction,
  checkHash32,
  DEFAULT_CHALLENGE_WINDOW_S,
  DEFAULT_UNSTAKE_COOLDOWN_S,
  BPS,
  EscrowError,
} from '../registry/settlement-backend.ts';
import type {
  Debit,
  GrantAmounts,
  GrantLedger,
  Hash32,
  Payout,
  SettlementBackend,
  SettlementPost,
  SettlementState,
  SettlementStatus,
  StakeInfo,
} from '../registry/settlement-backend.ts';

export interface LedgerBackendOptions {
  /** The SQLite file; may be the registry's own (every table here is prefixed `ledger_`). */
  readonly path: string;
  readonly challengeWindowS?: number;
  readonly unstakeCooldownS?: number;
  /** The party credited with slashed stake. */
  readonly treasury?: string;
  /** Unix ms; injectable so tests can move through windows and cooldowns. */
  readonly now?: () => number;
}

// 2: per-client balances and debits, grants (issue 14). A version-1 file pooled every deposit, so
// its balances cannot be split per client.
const SCHEMA_VERSION = '2';

// Amounts are decimal TEXT: wei overflow SQLite's 64-bit integers.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledger_deposits (client TEXT PRIMARY KEY, amount TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledger_balances (client TEXT PRIMARY KEY, amount TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledger_stakes (node TEXT PRIMARY KEY, amount TEXT NOT NULL, unstaking_until_ms INTEGER);
CREATE TABLE IF NOT EXISTS ledger_settlements (
  hash TEXT PRIMARY KEY,
  status TEXT NOT NULL CHECK (status IN ('posted', 'challenged', 'finalized')),
  posted_at_ms INTEGER NOT NULL,
  challenge_ends_at_ms INTEGER NOT NULL,
  total TEXT NOT NULL,
  challenge_reason TEXT
);
CREATE TABLE IF NOT EXISTS ledger_payouts (
  hash TEXT NOT NULL REFERENCES ledger_settlements (hash),
  idx INTEGER NOT NULL,
  node TEXT NOT NULL,
  amount TEXT NOT NULL,
  PRIMARY KEY (hash, idx)
);
CREATE TABLE IF NOT EXISTS ledger_debits (
  hash TEXT NOT NULL REFERENCES ledger_settlements (hash),
  idx INTEGER NOT NULL,
  client TEXT NOT NULL,
  amount TEXT NOT NULL,
  PRIMARY KEY (hash, idx)
);
CREATE TABLE IF NOT EXISTS ledger_grants (
  evidence_hash TEXT PRIMARY KEY,
  party TEXT NOT NULL,
  stake TEXT NOT NULL,
  deposit TEXT NOT NULL,
  at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_claimable (party TEXT PRIMARY KEY, amount TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledger_slashes (
  evidence_hash TEXT PRIMARY KEY,
  node TEXT NOT NULL,
  amount TEXT NOT NULL,
  fraction_bps INTEGER NOT NULL,
  at_ms INTEGER NOT NULL
);
`;

interface SettlementRow {
  readonly status: SettlementStatus;
  readonly postedAtMs: number;
  readonly challengeEndsAtMs: number;
  readonly total: string;
}

type AmountTable = 'ledger_deposits' | 'ledger_balances' | 'ledger_claimable';
const KEY_OF: Readonly<Record<AmountTable, string>> = {
  ledger_deposits: 'client',
  ledger_balances: 'client',
  ledger_claimable: 'party',
};

/**
 * The default back end: the contract's rules over the registry's SQLite. It holds no one's money,
 * so value enters it only by an operator's grant (stake or deposit) and by earnings: a settlement
 * moves clients' deposits to nodes' claimable, which a node may bond as stake. Each operation is one
 * immediate transaction, committed with synchronous=FULL before its promise resolves, so nothing
 * acknowledged is lost to kill -9 or to power loss (settlement traffic is a few writes a minute, so
 * the extra fsync costs nothing that matters).
 */
export class LedgerBackend implements SettlementBackend, GrantLedger {
  readonly kind = 'ledger';
  readonly treasury: string;
  readonly #db: Database.Database;
  readonly #windowMs: number;
  readonly #cooldownMs: number;
  readonly #now: () => number;

  constructor(options: LedgerBackendOptions) {
    this.treasury = options.treasury ?? 'treasury';
    this.#windowMs = seconds(options.challengeWindowS ?? DEFAULT_CHALLENGE_WINDOW_S, 'challengeWindowS') * 1000;
    this.#cooldownMs = seconds(options.unstakeCooldownS ?? DEFAULT_UNSTAKE_COOLDOWN_S, 'unstakeCooldownS') * 1000;
    this.#now = options.now ?? Date.now;
    this.#db = new Database(options.path);
    try {
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = FULL');
      this.#db.pragma('foreign_keys = ON');
      this.#db.exec(SCHEMA);
      const version = this.#meta('schema');
      if (version !== undefined && Number(version) < Number(SCHEMA_VERSION)) {
        throw new TesseraError(
          'LEDGER_SCHEMA_OUTDATED',
          'failed_precondition',
          `${options.path} has ledger schema version ${version}, which pooled all deposits; this tessera keeps each client's balance (version ${SCHEMA_VERSION}) and cannot split the pool: finalize and claim with the older tessera, or start from a fresh registry database (\`tessera registry --db NEW_FILE\`; for \`tessera up\`, \`--work-dir NEW_DIR\` or move ${dirname(options.path)} aside)`,
        );
      }
      if (version !== undefined && version !== SCHEMA_VERSION) {
        throw new TesseraError(
          'LEDGER_SCHEMA_NEWER',
          'failed_precondition',
          `${options.path} has ledger schema version ${version}; this tessera knows ${SCHEMA_VERSION}: upgrade tessera`,
        );
      }
      this.#setMeta('schema', SCHEMA_VERSION);
    } catch (error) {
      this.#db.close();
      throw error;
    }
  }

  async deposit(client: string, amount: bigint): Promise<void> {
    positive(checkAmount(amount, 'deposit'));
    this.#write(() => this.#credit(client, amount));
  }

  async deposited(client: string): Promise<bigint> {
    return this.#amount('ledger_deposits', client);
  }

  async balanceOf(client: string): Promise<bigint> {
    return this.#amount('ledger_balances', client);
  }

  /**
   * Credits what an operator granted; the caller (the registry's Grant handler) has checked the
   * operator's signature. Each piece of evidence credits once, so a replayed grant that slipped past
   * the nonce cache still adds nothing.
   */
  async grant(to: string, amounts: GrantAmounts, evidence: Hash32): Promise<void> {
    const key = checkHash32(evidence, 'grant evidence');
    const stake = checkAmount(amounts.stake ?? 0n, 'granted stake');
    const deposit = checkAmount(amounts.deposit ?? 0n, 'granted deposit');
    if (to === '') throw new EscrowError('ZeroAddress', 'a grant names no party');
    if (stake === 0n && deposit === 0n) throw new EscrowError('ZeroAmount', `grant ${key} credits nothing`);
    this.#write(() => {
      if (this.#db.prepare('SELECT 1 FROM ledger_grants WHERE evidence_hash = ?').get(key) !== undefined)
        throw new EscrowError('EvidenceAlreadyUsed', `grant ${key} has already been credited`);
      if (stake > 0n) this.#bond(to, stake);
      if (deposit > 0n) this.#credit(to, deposit);
      this.#db
        .prepare('INSERT INTO ledger_grants (evidence_hash, party, stake, deposit, at_ms) VALUES (?, ?, ?, ?, ?)')
        .run(key, to, String(stake), String(deposit), this.#now());
    });
  }

  /** The ledger holds no wallet: a node bonds what it earned. */
  async stake(node: string, amount: bigint): Promise<void> {
    return this.stakeFromEarnings(node, amount);
  }

  async stakeFromEarnings(node: string, amount: bigint): Promise<void> {
    positive(checkAmount(amount, 'stake'));
    this.#write(() => {
      const earned = this.#amount('ledger_claimable', node);
      if (earned < amount)
        throw new EscrowError(
          'InsufficientFunds',
          `node ${node} holds ${earned} in claimable earnings, less than the ${amount} it asked to stake: stake is bonded from earnings or granted by the cluster operator`,
        );
      this.#bond(node, amount);
      this.#set('ledger_claimable', node, earned - amount);
    });
  }

  async requestUnstake(node: string): Promise<number> {
    return this.#write(() => {
      const current = this.#stake(node);
      if (current === undefined || current.amount === 0n) throw new EscrowError('NoStake', `node ${node} has no stake`);
      if (current.unstakingUntilMs !== null) throw new EscrowError('AlreadyUnstaking', `node ${node} is unstaking`);
      const until = this.#now() + this.#cooldownMs;
      this.#db.prepare('UPDATE ledger_stakes SET unstaking_until_ms = ? WHERE node = ?').run(until, node);
      return until;
    });
  }

  async withdrawStake(node: string): Promise<bigint> {
    return this.#write(() => {
      const current = this.#stake(node);
      if (current === undefined || current.unstakingUntilMs === null)
        throw new EscrowError('NotUnstaking', `node ${node} has not requested to unstake`);
      if (this.#now() < current.unstakingUntilMs) {
        throw new EscrowError(
          'CooldownActive',
          `node ${node} may withdraw from ${new Date(current.unstakingUntilMs).toISOString()}`,
        );
      }
      this.#db.prepare('DELETE FROM ledger_stakes WHERE node = ?').run(node);
      return current.amount;
    });
  }

  async stakeOf(node: string): Promise<StakeInfo> {
    const current = this.#stake(node);
    if (current === undefined) return { amount: 0n };
    return current.unstakingUntilMs === null
      ? { amount: current.amount }
      : { amount: current.amount, unstakingUntilMs: current.unstakingUntilMs };
  }

  async postSettlement(post: SettlementPost): Promise<number> {
    const hash = checkHash32(post.hash, 'settlement hash');
    if (post.payouts.length === 0) throw new EscrowError('EmptySettlement', `settlement ${hash} has no payouts`);
    let total = 0n;
    for (const p of post.payouts) {
      if (p.node === '') throw new EscrowError('ZeroAddress', `settlement ${hash} pays an empty node id`);
      if (checkAmount(p.amount, 'payout') === 0n)
        throw new EscrowError('ZeroAmount', `settlement ${hash} pays 0 to ${p.node}`);
      total += p.amount;
    }
    let debited = 0n;
    for (const d of post.debits) {
      if (d.client === '') throw new EscrowError('ZeroAddress', `settlement ${hash} debits an empty client id`);
      if (checkAmount(d.amount, 'debit') === 0n)
        throw new EscrowError('ZeroAmount', `settlement ${hash} debits 0 from ${d.client}`);
      debited += d.amount;
    }
    if (debited !== total)
      throw new EscrowError('UnbalancedSettlement', `settlement ${hash} pays ${total} but debits ${debited}`);
    return this.#write(() => {
      if (this.#settlement(hash) !== undefined)
        throw new EscrowError('SettlementExists', `settlement ${hash} was already posted`);
      // In order, so a client debited twice is checked against what the first debit left; a refusal
      // rolls the whole transaction back.
      for (const d of post.debits) {
        const balance = this.#amount('ledger_balances', d.client);
        if (balance < d.amount)
          throw new EscrowError(
            'InsufficientDeposits',
            `settlement ${hash} debits ${d.amount} from client ${d.client}, whose balance is ${balance}`,
          );
        this.#set('ledger_balances', d.client, balance - d.amount);
      }
      const now = this.#now();
      const endsAt = now + this.#windowMs;
      this.#db
        .prepare(
          "INSERT INTO ledger_settlements (hash, status, posted_at_ms, challenge_ends_at_ms, total) VALUES (?, 'posted', ?, ?, ?)",
        )
        .run(hash, now, endsAt, String(total));
      const insert = this.#db.prepare('INSERT INTO ledger_payouts (hash, idx, node, amount) VALUES (?, ?, ?, ?)');
      post.payouts.forEach((p, i) => insert.run(hash, i, p.node, String(p.amount)));
      const debit = this.#db.prepare('INSERT INTO ledger_debits (hash, idx, client, amount) VALUES (?, ?, ?, ?)');
      post.debits.forEach((d, i) => debit.run(hash, i, d.client, String(d.amount)));
      return endsAt;
    });
  }

  async challenge(hash: Hash32, reason: string): Promise<void> {
    const key = checkHash32(hash, 'settlement hash');
    this.#write(() => {
      const s = this.#pending(key);
      if (this.#now() >= s.challengeEndsAtMs) {
        throw new EscrowError(
          'ChallengeWindowClosed',
          `settlement ${key} stopped taking challenges at ${new Date(s.challengeEndsAtMs).toISOString()}`,
        );
      }
      for (const d of this.#debits(key)) this.#add('ledger_balances', d.client, d.amount);
      this.#db
        .prepare("UPDATE ledger_settlements SET status = 'challenged', challenge_reason = ? WHERE hash = ?")
        .run(reason, key);
    });
  }

  async finalize(hash: Hash32): Promise<void> {
    const key = checkHash32(hash, 'settlement hash');
    this.#write(() => {
      const s = this.#pending(key);
      if (this.#now() < s.challengeEndsAtMs) {
        throw new EscrowError(
          'ChallengeWindowOpen',
          `settlement ${key} is open to challenges until ${new Date(s.challengeEndsAtMs).toISOString()}`,
        );
      }
      for (const p of this.#payouts(key)) this.#add('ledger_claimable', p.node, p.amount);
      this.#db.prepare("UPDATE ledger_settlements SET status = 'finalized' WHERE hash = ?").run(key);
    });
  }

  async settlementState(hash: Hash32): Promise<SettlementState> {
    const key = checkHash32(hash, 'settlement hash');
    const s = this.#settlement(key);
    if (s === undefined) return { status: 'none' };
    return {
      status: s.status,
      postedAtMs: s.postedAtMs,
      challengeEndsAtMs: s.challengeEndsAtMs,
      total: BigInt(s.total),
      payouts: this.#payouts(key),
      debits: this.#debits(key),
    };
  }

  async claimable(party: string): Promise<bigint> {
    return this.#amount('ledger_claimable', party);
  }

  async claim(party: string): Promise<bigint> {
    return this.#write(() => {
      const amount = this.#amount('ledger_claimable', party);
      if (amount === 0n) throw new EscrowError('NothingToClaim', `${party} has nothing to claim`);
      this.#db.prepare('DELETE FROM ledger_claimable WHERE party = ?').run(party);
      return amount;
    });
  }

  async slash(node: string, fractionBps: number, evidenceHash: Hash32): Promise<bigint> {
    checkFraction(fractionBps);
    const evidence = checkHash32(evidenceHash, 'evidence hash');
    return this.#write(() => {
      if (this.#db.prepare('SELECT 1 FROM ledger_slashes WHERE evidence_hash = ?').get(evidence) !== undefined) {
        throw new EscrowError('EvidenceAlreadyUsed', `evidence ${evidence} has already slashed`);
      }
      const current = this.#stake(node);
      if (current === undefined || current.amount === 0n) throw new EscrowError('NoStake', `node ${node} has no stake`);
      const amount = (current.amount * BigInt(fractionBps)) / BigInt(BPS);
      this.#db.prepare('UPDATE ledger_stakes SET amount = ? WHERE node = ?').run(String(current.amount - amount), node);
      this.#add('ledger_claimable', this.treasury, amount);
      this.#db
        .prepare('INSERT INTO ledger_slashes (evidence_hash, node, amount, fraction_bps, at_ms) VALUES (?, ?, ?, ?, ?)')
        .run(evidence, node, String(amount), fractionBps, this.#now());
      return amount;
    });
  }

  async close(): Promise<void> {
    this.#db.close();
  }

  #write<T>(work: () => T): T {
    return this.#db.transaction(work).immediate();
  }

  #meta(key: string): string | undefined {
    return (this.#db.prepare('SELECT value FROM ledger_meta WHERE key = ?').get(key) as { value: string } | undefined)
      ?.value;
  }

  #setMeta(key: string, value: string): void {
    this.#db
      .prepare(
        'INSERT INTO ledger_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      )
      .run(key, value);
  }

  #amount(table: AmountTable, id: string): bigint {
    const row = this.#db.prepare(`SELECT amount FROM ${table} WHERE ${KEY_OF[table]} = ?`).get(id) as
      { amount: string } | undefined;
    return row === undefined ? 0n : BigInt(row.amount);
  }

  #set(table: AmountTable, id: string, amount: bigint): void {
    const column = KEY_OF[table];
    this.#db
      .prepare(
        `INSERT INTO ${table} (${column}, amount) VALUES (?, ?) ON CONFLICT (${column}) DO UPDATE SET amount = excluded.amount`,
      )
      .run(id, String(amount));
  }

  #add(table: AmountTable, id: string, amount: bigint): void {
    this.#set(table, id, this.#amount(table, id) + amount);
  }

  #credit(client: string, amount: bigint): void {
    this.#add('ledger_deposits', client, amount);
    this.#add('ledger_balances', client, amount);
  }

  #bond(node: string, amount: bigint): void {
    const current = this.#stake(node);
    // New stake would otherwise leave with the old one after a cooldown it never served (as the contract).
    if (current !== undefined && current.unstakingUntilMs !== null)
      throw new EscrowError('AlreadyUnstaking', `node ${node} is unstaking`);
    this.#db
      .prepare(
        'INSERT INTO ledger_stakes (node, amount, unstaking_until_ms) VALUES (?, ?, NULL) ON CONFLICT (node) DO UPDATE SET amount = excluded.amount',
      )
      .run(node, String((current?.amount ?? 0n) + amount));
  }

  #stake(node: string): { amount: bigint; unstakingUntilMs: number | null } | undefined {
    const row = this.#db
      .prepare('SELECT amount, unstaking_until_ms AS until FROM ledger_stakes WHERE node = ?')
      .get(node) as { amount: string; until: number | null } | undefined;
    return row === undefined ? undefined : { amount: BigInt(row.amount), unstakingUntilMs: row.until };
  }

  #settlement(hash: Hash32): SettlementRow | undefined {
    return this.#db
      .prepare(
        'SELECT status, posted_at_ms AS postedAtMs, challenge_ends_at_ms AS challengeEndsAtMs, total FROM ledger_settlements WHERE hash = ?',
      )
      .get(hash) as SettlementRow | undefined;
  }

  /** A settlement still open to a challenge or to finalization. */
  #pending(hash: Hash32): SettlementRow {
    const s = this.#settlement(hash);
    if (s === undefined) throw new EscrowError('UnknownSettlement', `settlement ${hash} was never posted`);
    if (s.status === 'challenged') throw new EscrowError('AlreadyChallenged', `settlement ${hash} was challenged`);
    if (s.status === 'finalized') throw new EscrowError('AlreadyFinalized', `settlement ${hash} is already finalized`);
    return s;
  }

  #payouts(hash: Hash32): Payout[] {
    const rows = this.#db.prepare('SELECT node, amount FROM ledger_payouts WHERE hash = ? ORDER BY idx').all(hash) as {
      node: string;
      amount: string;
    }[];
    return rows.map((r) => ({ node: r.node, amount: BigInt(r.amount) }));
  }

  #debits(hash: Hash32): Debit[] {
    const rows = this.#db.prepare('SELECT client, amount FROM ledger_debits WHERE hash = ? ORDER BY idx').all(hash) as {
      client: string;
      amount: string;
    }[];
    return rows.map((r) => ({ client: r.client, amount: BigInt(r.amount) }));
  }
}

function positive(amount: bigint): void {
  if (amount === 0n) throw new EscrowError('ZeroAmount', 'amount must be positive');
}

function seconds(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError(`${what} must be a whole number of seconds, got ${value}`);
  return value;
}
