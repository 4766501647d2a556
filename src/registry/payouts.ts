import { BPS, type Payout } from './settlement-backend.ts';
import type { SettlementSummary } from '../chain/summary.ts';

/** The largest bonus for the fastest nodes: 5 % of a window's pool. */
export const MAX_BONUS_BPS = 500;

export interface PayoutRule {
  /** What the window's clients owe and have deposited: the pool shared out. */
  readonly pool: bigint;
  /** Share of the pool (basis points, at most MAX_BONUS_BPS) split equally among `fastest`. */
  readonly bonusBps: number;
  /** The nodes that won the window's races (lowest compute time per token); may be empty. */
  readonly fastest: readonly string[];
  /** Nodes with a confirmed fraud proof: their part of the pool is not paid. */
  readonly banned: ReadonlySet<string>;
}

/**
 * A window's payouts. The pool less the bonus goes to the nodes pro rata of their weighted shares
 * (over the window's whole weight, so a banned node's part stays in escrow); the bonus is split
 * equally among the fastest unbanned nodes (none: no bonus). Amounts are rounded down; the dust
 * stays in escrow for later windows.
 */
export function computePayouts(summary: SettlementSummary, rule: PayoutRule): Payout[] {
  if (!Number.isInteger(rule.bonusBps) || rule.bonusBps < 0 || rule.bonusBps > MAX_BONUS_BPS) {
    throw new RangeError(`bonusBps ${rule.bonusBps} is not an integer in 0..${MAX_BONUS_BPS}`);
  }
  if (rule.pool <= 0n || summary.totalWeight === 0) return [];
  const winners = [...new Set(rule.fastest)].filter(
    (n) => !rule.banned.has(n) && summary.nodes.some((s) => s.nodeId === n),
  );
  const bonus = winners.length === 0 ? 0n : (rule.pool * BigInt(rule.bonusBps)) / BigInt(BPS);
  const base = rule.pool - bonus;
  const perWinner = winners.length === 0 ? 0n : bonus / BigInt(winners.length);
  const payouts: Payout[] = [];
  for (const node of summary.nodes) {
    if (rule.banned.has(node.nodeId)) continue;
    const amount =
      (base * BigInt(node.weight)) / BigInt(summary.totalWeight) + (winners.includes(node.nodeId) ? perWinner : 0n);
    if (amount > 0n) payouts.push({ node: node.nodeId, amount });
  }
  return payouts;
}
