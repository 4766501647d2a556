import { hex } from '../crypto/hash.ts';
import { silentLogger, type Logger } from '../core/log.ts';
import type Database from 'better-sqlite3';
import { hexToBytes } from '@noble/hashes/utils.js';
import { DaemonClient } from '../chain/daemon-client.ts';

import { openShare, shareSigner } from '../protocol/share.ts';
import type { SettlementSummary } from '../chain/summary.ts';
import { addressOf } from '../crypto/keys.ts';
import { EscrowError, type Hash32, type Payout, type SettlementBackend } from './settlement-backend.ts';
import type { MemberDirectory } from '../chain/membership-service.ts';
import { computePayouts } from './payouts.ts';

export interface SettlerOptions {
  readonly backend: SettlementBackend;
  readonly daemon: DaemonClient;
  /** The registry's database: audit tickets and bans. */
  readonly db: Database.Database;
  /** Admitted members (share keys, and whether a daemon and a verifier are live). */
  readonly members: MemberDirectory;
  /** Basis points of each pool for the fastest nodes; default 0, at most 500. */
  readonly bonusBps?: number;
  /** The window's fastest nodes among those given (default: none). */
  readonly fastest?: (nodeIds: readonly string[]) => readonly string[];
  readonly log?: Logger;
}

export type SettleOutcome =
  | {
      readonly status: 'posted';
      readonly hash: Hash32;
      readonly payouts: readonly Payout[];
      readonly challengeEndsAtMs: number;
    }
  | { readonly status: 'already'; readonly hash: Hash32; readonly state: string }
  | { readonly status: 'waiting' | 'empty'; readonly reason: string };

export type FinalizeOutcome =
  { readonly status: 'finalized' } | { readonly status: 'waiting' | 'challenged'; readonly reason: string };

/**
 * The registry's side of settlement (docs/ARCHITECTURE.md §8): takes a daemon's summary of a window only
 * once its shares check out against the blocks and the registry's share keys and its audits are
 * done, posts the payouts, and finalizes after the challenge window while a daemon and a verifier
 * are live.
 */
export class Settler {
  readonly #o: SettlerOptions;

  constructor(options: SettlerOptions) {
    this.#o = options;
  }

  async settle(window: number): Promise<SettleOutcome> {
    const { backend, daemon, db } = this.#o;
    let summary: SettlementSummary;
    try {
      summary = await daemon.settlementSummary(window);
    } catch (error) {
      return {
        status: 'waiting',
        reason: `daemon ${daemon.endpoint}: ${(error as { details?: string }).details || (error as Error).message}`,
      };
    }
    const hash = `0x${summary.hash}` as Hash32;
    // The back end is the record of what was posted: a restarted registry does not post twice.
    const state = await backend.settlementState(hash);
    if (state.status !== 'none') return { status: 'already', hash, state: state.status };
    const invalid = await this.#checkShares(summary);
    if (invalid !== undefined) throw new SettlementRejectedError(`window ${window}: ${invalid}`);
    const lastBlock = await daemon.block(summary.toHeight, true);
    const pending = this.#pendingAudits(
      summary.nodes.map((n) => n.nodeId),
      lastBlock.header.timestampMs,
    );
    if (pending > 0)
      return { status: 'waiting', reason: `${pending} audit tickets of the window's nodes are not done` };
    const owed = summary.clients.reduce((sum, c) => sum + BigInt(c.fees), 0n);
    const available = await backend.available();
    const pool = owed < available ? owed : available;
    const banned = new Set(
      (db.prepare('SELECT node_id AS nodeId FROM audit_bans').all() as { nodeId: string }[]).map((r) => r.nodeId),
    );
    const payouts = computePayouts(summary, {
      pool,
      bonusBps: this.#o.bonusBps ?? 0,
      fastest: this.#o.fastest?.(summary.nodes.map((n) => n.nodeId)) ?? [],
      banned,
    });
    if (payouts.length === 0)
      return { status: 'empty', reason: `window ${window} pays nobody (pool ${pool}, weight ${summary.totalWeight})` };
    const challengeEndsAtMs = await backend.postSettlement({ hash, payouts });
    this.#o.log?.('settlement_posted', {
      window,
      hash,
      pool: String(pool),
      payouts: payouts.map((p) => ({ node: p.node, amount: String(p.amount) })),
      challengeEndsAtMs,
    });
    return { status: 'posted', hash, payouts, challengeEndsAtMs };
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
    this.#o.log?.('settlement_finalized', { hash });
    return { status: 'finalized' };
  }

  /** Recounts the window's blocks: every share signed by its node's registered share key, the totals the summary's. */
  async #checkShares(summary: SettlementSummary): Promise<string | undefined> {
    const totals = new Map<string, { shares: number; weight: number; tokens: number }>();
    const keys = new Map<string, string | undefined>();
    for (let from = summary.fromHeight; from <= summary.toHeight;) {
      const { blocks } = await this.#o.daemon.blocks(from, summary.toHeight);
      if (blocks.length === 0) return `the daemon holds no block at height ${from}`;
      for (const block of blocks) {
        if (block.header.height === summary.toHeight && hex(block.hash) !== summary.lastBlockHash)
          return `block ${summary.toHeight} is not the one the summary names`;
        for (const signed of block.shares) {
          const share = openShare(signed.payload);
          if (!keys.has(share.nodeId)) {
            const member = this.#o.members.members([share.nodeId], '')[0];
            keys.set(share.nodeId, member === undefined ? undefined : addressOf(hexToBytes(member.shareKey)));
          }
          const key = keys.get(share.nodeId);
          if (key === undefined) return `share of ${share.nodeId}, a node the registry does not know`;
          if (shareSigner(signed) !== key)
            return `a share of ${share.nodeId} is not signed by its registered share key`;
          const t = totals.get(share.nodeId) ?? { shares: 0, weight: 0, tokens: 0 };
          totals.set(share.nodeId, {
            shares: t.shares + 1,
            weight: t.weight + share.weight,
            tokens: t.tokens + share.tokensProcessed,
          });
        }
      }
      from = blocks.at(-1)!.header.height + 1;
    }
    for (const node of summary.nodes) {
      const t = totals.get(node.nodeId);
      if (t === undefined || t.shares !== node.shares || t.weight !== node.weight || t.tokens !== node.tokens)
        return `the summary's totals for ${node.nodeId} differ from its blocks`;
    }
    if (totals.size !== summary.nodes.length) return 'the blocks hold shares of nodes the summary leaves out';
    return undefined;
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

/** A window whose summary does not match its blocks: never posted. */
export class SettlementRejectedError extends Error {}

/** What happened to a window: posted (its challenge window opens), finalized, challenged, or rejected (its summary did not match its blocks). */
export type SettlementEvent = 'posted' | 'finalized' | 'challenged' | 'rejected';

export interface SettlementLoopOptions extends Omit<SettlerOptions, 'daemon' | 'fastest'> {
  /** How often windows are settled and finalized. Default 10 s. */
  readonly intervalMs?: number;
  /** Each window's events, for the registry's metrics. */
  readonly onEvent?: (event: SettlementEvent) => void;
}

/**
 * For each shard, the node with the lowest compute time per token the registry last heard: the
 * racing winners the bonus rewards.
 */
export function fastestByShard(db: Database.Database, nodeIds: readonly string[]): string[] {
  if (nodeIds.length === 0) return [];
  const rows = db
    .prepare(
      `SELECT node_id AS nodeId, shard_index AS shard, compute_us_per_token AS us FROM nodes WHERE compute_us_per_token > 0 AND node_id IN (${nodeIds.map(() => '?').join(',')}) ORDER BY us, node_id`,
    )
    .all(...nodeIds) as { nodeId: string; shard: number; us: number }[];
  const best = new Map<number, string>();
  for (const r of rows) if (!best.has(r.shard)) best.set(r.shard, r.nodeId);
  return [...best.values()];
}

/**
 * The registry's settlement duty: settles windows in order from a live daemon (the back end says
 * which are posted already, so a restart posts nothing twice) and finalizes what it posted once the
 * challenge window allows.
 */
export function startSettlementLoop(options: SettlementLoopOptions): { close(): Promise<void> } {
  const log = options.log ?? silentLogger;
  let next = 0;
  const open = new Set<Hash32>();
  let running: Promise<void> | undefined;
  const tick = async () => {
    const daemons = options.members.members([], 'daemon');
    if (daemons.length === 0) return;
    const daemon = new DaemonClient(daemons[0]!.endpoint, { deadlineMs: 15_000 });
    try {
      const settler = new Settler({ ...options, daemon, fastest: (ids) => fastestByShard(options.db, ids) });
      for (;;) {
        let outcome: SettleOutcome;
        try {
          outcome = await settler.settle(next);
        } catch (error) {
          if (!(error instanceof SettlementRejectedError)) throw error;
          log('settlement_rejected', { window: next, daemon: daemon.endpoint, error: error.message });
          options.onEvent?.('rejected');
          break;
        }
        if (outcome.status === 'waiting') break;
        if (outcome.status === 'posted') options.onEvent?.('posted');
        if (outcome.status === 'posted' || (outcome.status === 'already' && outcome.state === 'posted'))
          open.add(outcome.hash);
        next++;
      }
      for (const hash of open) {
        const done = await settler.finalize(hash);
        if (done.status !== 'waiting') {
          open.delete(hash);
          options.onEvent?.(done.status);
        }
        if (done.status === 'challenged') log('settlement_challenged', { hash });
      }
    } finally {
      daemon.close();
    }
  };
  const timer = setInterval(() => {
    running ??= tick()
      .catch((error: Error) => log('settlement_failed', { window: next, error: error.message }))
      .finally(() => (running = undefined));
  }, options.intervalMs ?? 10_000);
  timer.unref();
  return {
    close: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
