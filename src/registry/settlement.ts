import { silentLogger, type Logger } from '../core/log.ts';
import type Database from 'better-sqlite3';
import { canonicalJson } from '../crypto/canonical-json.ts';
import { sha256 } from '../crypto/hash.ts';
import { DaemonClient } from '../chain/daemon-client.ts';
import type { MemberDirectory } from '../chain/membership-service.ts';
import { shareKeyAddresses } from '../chain/membership.ts';
import type { SettlementSummary } from '../chain/summary.ts';
import { computePayments } from './payouts.ts';
import { EscrowError, type Debit, type Hash32, type Payout, type SettlementBackend } from './settlement-backend.ts';
import { SettlementStore, type WindowRecord } from './settlement-store.ts';
import { checkWindow } from './window-check.ts';

export interface SettlerOptions {
  readonly backend: SettlementBackend;
  /** The registry's database: audit tickets and bans, and this settler's own records. */
  readonly db: Database.Database;
  /** Admitted members: share keys (past ones too), and whether daemons and verifiers are live. */
  readonly members: MemberDirectory;
  /** Addresses whose signature makes a roster: the registry keys of this cluster. */
  readonly authorities: () => ReadonlySet<string>;
  readonly log?: Logger;
  /** Each window's events, for the registry's metrics. */
  readonly onEvent?: (event: SettlementEvent) => void;
}

export type SettleOutcome =
  | {
      readonly status: 'posted';
      readonly hash: Hash32;
      readonly summary: SettlementSummary;
      readonly payouts: readonly Payout[];
      readonly debits: readonly Debit[];
      readonly challengeEndsAtMs: number;
    }
  | { readonly status: 'already'; readonly hash: Hash32; readonly state: string }
  | { readonly status: 'waiting' | 'empty'; readonly reason: string };

export type FinalizeOutcome =
  { readonly status: 'finalized' } | { readonly status: 'waiting' | 'challenged'; readonly reason: string };

/**
 * The hash a window is settled under: its summary and the nodes withheld from it. A window settled
 * again after a challenge withholds one more node, so it is posted under a new hash.
 */
export function settlementHashOf(summary: SettlementSummary, withheld: readonly string[]): Hash32 {
  return `0x${sha256(canonicalJson({ summary: summary.hash, withheld: [...withheld].sort() })).toString('hex')}`;
}

/**
 * The registry's side of settlement (docs/ARCHITECTURE.md §8). A window is settled from the chain's
 * own final blocks, as any daemon that serves them checked (window-check.ts), whatever the window's
 * nodes did since; each client pays the nodes its receipts name from its own balance (payouts.ts);
 * a node with a confirmed fraud proof is withheld, and a posted settlement that pays it is
 * challenged and settled again without it. Finalized after the challenge window while a daemon and
 * a verifier are live.
 */
export class Settler {
  readonly #o: SettlerOptions;
  readonly #store: SettlementStore;

  constructor(options: SettlerOptions) {
    this.#o = options;
    this.#store = new SettlementStore(options.db);
  }

  get store(): SettlementStore {
    return this.#store;
  }

  /** Settles `window` from the first of `daemons` that serves it final and valid. */
  async settle(window: number, daemons: readonly DaemonClient[]): Promise<SettleOutcome> {
    const { backend } = this.#o;
    const log = this.#o.log ?? silentLogger;
    const record = this.#store.window(window);
    if (record !== undefined && record.status !== 'challenged') {
      const state = await backend.settlementState(record.hash);
      if (record.status !== 'posting' || state.status !== 'none') {
        if (record.status === 'posting') this.#store.put({ ...record, status: state.status as WindowRecord['status'] });
        return { status: 'already', hash: record.hash, state: state.status === 'none' ? record.status : state.status };
      }
    }

    const reasons: string[] = [];
    let checked;
    for (const daemon of daemons) {
      let outcome;
      try {
        outcome = await checkWindow(daemon, window, {
          shareKeysOf: (nodeId) => this.#shareKeysOf(nodeId),
          authorities: this.#o.authorities(),
          genesis: this.#store.pinnedGenesis(),
        });
      } catch (error) {
        reasons.push(
          `daemon ${daemon.endpoint}: ${(error as { details?: string }).details || (error as Error).message}`,
        );
        continue;
      }
      if (outcome.status === 'checked') {
        checked = outcome;
        break;
      }
      if (outcome.status === 'refused') {
        log('settlement_daemon_refused', { window, reason: outcome.reason });
        this.#o.onEvent?.('rejected');
      }
      reasons.push(outcome.reason);
    }
    if (checked === undefined)
      return { status: 'waiting', reason: reasons.length === 0 ? 'no live daemon' : reasons.join('; ') };
    this.#store.pinGenesis(checked.genesis);
    const { summary } = checked;

    const nodes = [...new Set(summary.flows.map((f) => f.nodeId))];
    const pending = this.#pendingAudits(nodes, checked.lastBlock.header.timestampMs);
    if (pending > 0)
      return { status: 'waiting', reason: `${pending} audit tickets of the window's nodes are not done` };
    const banned = this.#banned();
    const withheld = nodes.filter((n) => banned.has(n)).sort();
    const hash = settlementHashOf(summary, withheld);
    if (record?.status === 'challenged' && record.hash === hash)
      return { status: 'waiting', reason: `window ${window} was challenged and nothing more is withheld yet` };
    const state = await backend.settlementState(hash);
    if (state.status !== 'none') {
      this.#store.put({ window, hash, status: state.status, withheld });
      return { status: 'already', hash, state: state.status };
    }
    const clients = [...new Set(summary.flows.map((f) => f.client))];
    const balances = new Map(await Promise.all(clients.map(async (c) => [c, await backend.balanceOf(c)] as const)));
    const { payouts, debits } = computePayments(summary.flows, balances, new Set(withheld));
    if (payouts.length === 0) {
      this.#store.put({ window, hash, status: 'empty', withheld });
      return {
        status: 'empty',
        reason: `window ${window} pays nobody (${summary.totalShares} shares; their clients' balances ${clients.map((c) => `${c}: ${balances.get(c)}`).join(', ') || 'none'})`,
      };
    }
    // Recorded before the back end acts: after a crash the back end says whether it was posted.
    this.#store.put({ window, hash, status: 'posting', withheld });
    const challengeEndsAtMs = await backend.postSettlement({ hash, payouts, debits });
    this.#store.put({ window, hash, status: 'posted', withheld });
    this.#o.onEvent?.('posted');
    log('settlement_posted', {
      window,
      hash,
      summary: summary.hash,
      withheld,
      payouts: payouts.map((p) => ({ node: p.node, amount: String(p.amount) })),
      debits: debits.map((d) => ({ client: d.client, amount: String(d.amount) })),
      challengeEndsAtMs,
    });
    return { status: 'posted', hash, summary, payouts, debits, challengeEndsAtMs };
  }

  /**
   * Challenges every posted settlement that pays a node a fraud proof has since confirmed (the
   * challenge releases its clients' reserves; the window is then settled again without the node).
   * Returns the windows challenged.
   */
  async challengeFraud(): Promise<number[]> {
    const { backend } = this.#o;
    const banned = this.#banned();
    const challenged: number[] = [];
    for (const record of this.#store.windows(['posted'])) {
      const state = await backend.settlementState(record.hash);
      if (state.status !== 'posted') continue;
      // Node ids are lowercase; the escrow contract answers checksummed addresses.
      const fraud = state.payouts.find((p) => banned.has(p.node.toLowerCase()));
      if (fraud === undefined) continue;
      try {
        await backend.challenge(record.hash, `a fraud proof against ${fraud.node} was confirmed`);
      } catch (error) {
        // Too late: the challenge window closed. The settlement stands (the node was slashed).
        if (error instanceof EscrowError && error.code === 'ChallengeWindowClosed') continue;
        throw error;
      }
      this.#store.put({ ...record, status: 'challenged' });
      this.#o.onEvent?.('challenged');
      this.#o.log?.('settlement_challenged', { window: record.window, hash: record.hash, node: fraud.node });
      challenged.push(record.window);
    }
    return challenged;
  }

  /** Finalizes a posted settlement once its challenge window has passed, while a daemon and a verifier are live. */
  async finalize(hash: Hash32): Promise<FinalizeOutcome> {
    const { backend, members } = this.#o;
    const state = await backend.settlementState(hash);
    if (state.status === 'none') return { status: 'waiting', reason: `settlement ${hash} was never posted` };
    if (state.status === 'finalized') return { status: 'finalized' };
    if (state.status === 'challenged')
      return { status: 'challenged', reason: `settlement ${hash} was challenged; it is never finalized` };
    for (const role of ['daemon', 'verifier']) {
      if (members.members([], role).length === 0)
        return {
          status: 'waiting',
          reason: `no live ${role}: settlements are finalized only while daemons and verifiers watch`,
        };
    }
    try {
      await backend.finalize(hash);
    } catch (error) {
      // The back end's clock decides when the challenge window ends (a chain's, for the escrow contract).
      if (error instanceof EscrowError && error.code === 'ChallengeWindowOpen')
        return { status: 'waiting', reason: error.message };
      throw error;
    }
    for (const record of this.#store.windows(['posted']))
      if (record.hash === hash) this.#store.put({ ...record, status: 'finalized' });
    this.#o.log?.('settlement_finalized', { hash });
    this.#o.onEvent?.('finalized');
    return { status: 'finalized' };
  }

  /** Every share key the node ever registered, as addresses. */
  #shareKeysOf(nodeId: string): ReadonlySet<string> {
    const member = this.#o.members.members([nodeId], '')[0];
    return member === undefined ? new Set() : shareKeyAddresses(member);
  }

  #banned(): Set<string> {
    return new Set(
      (this.#o.db.prepare('SELECT node_id AS nodeId FROM audit_bans').all() as { nodeId: string }[]).map(
        (r) => r.nodeId,
      ),
    );
  }

  #pendingAudits(nodeIds: readonly string[], untilMs: number): number {
    if (nodeIds.length === 0) return 0;
    const row = this.#o.db
      .prepare(
        `SELECT COUNT(*) AS n FROM audit_tickets WHERE status = 'queued' AND received_at_ms <= ? AND node_id IN (${nodeIds.map(() => '?').join(',')})`,
      )
      .get(untilMs, ...nodeIds) as { n: number };
    return row.n;
  }
}

/** What happened to a window: posted (its challenge window opens), finalized, challenged; or a daemon's blocks were rejected. */
export type SettlementEvent = 'posted' | 'finalized' | 'challenged' | 'rejected';

export interface SettlementLoopOptions extends SettlerOptions {
  /** How often windows are settled and finalized. Default 10 s. */
  readonly intervalMs?: number;
}

/**
 * The registry's settlement duty: challenges what a fraud proof has since touched, settles windows
 * in order (and challenged ones again) from the live daemons, and finalizes what it posted once the
 * challenge window allows. Its records make a restart post nothing twice.
 */
export function startSettlementLoop(options: SettlementLoopOptions): { close(): Promise<void>; settler: Settler } {
  const log = options.log ?? silentLogger;
  const settler = new Settler(options);
  let running: Promise<void> | undefined;
  let turn = 0;
  const tick = async () => {
    const endpoints = options.members.members([], 'daemon').map((m) => m.endpoint);
    // Each tick starts with another daemon: one that serves a bad chain cannot hold settlement up.
    const start = endpoints.length === 0 ? 0 : turn++ % endpoints.length;
    const daemons = [...endpoints.slice(start), ...endpoints.slice(0, start)].map(
      (endpoint) => new DaemonClient(endpoint, { deadlineMs: 15_000 }),
    );
    try {
      await settler.challengeFraud();
      for (const record of settler.store.windows(['challenged', 'posting']))
        await settler.settle(record.window, daemons);
      if (daemons.length > 0) while ((await settler.settle(settler.store.nextWindow(), daemons)).status !== 'waiting');
      for (const record of settler.store.windows(['posted'])) await settler.finalize(record.hash);
    } finally {
      for (const d of daemons) d.close();
    }
  };
  const timer = setInterval(() => {
    running ??= tick()
      .catch((error: Error) => log('settlement_failed', { error: error.message }))
      .finally(() => (running = undefined));
  }, options.intervalMs ?? 10_000);
  timer.unref();
  return {
    settler,
    close: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
