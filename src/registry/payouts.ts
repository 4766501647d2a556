import type { Debit, Payout } from './settlement-backend.ts';
import type { UsageFlow } from '../chain/summary.ts';

/**
 * A window's payments (docs/ARCHITECTURE.md §8). Each client pays the nodes its receipts name, at the
 * fees the chain recorded (tokens × the base fee of the block that holds each share), from its own
 * balance and no one else's: a client whose balance covers what it owes pays every flow in full; one
 * that cannot pays each of its flows the same fraction, rounded down; one with nothing pays nothing.
 * A withheld node (a confirmed fraud proof) is paid nothing and its clients are not debited for it.
 * Σ payouts = Σ debits, exactly.
 */
export function computePayments(
  flows: readonly UsageFlow[],
  balances: ReadonlyMap<string, bigint>,
  withheld: ReadonlySet<string>,
): { payouts: Payout[]; debits: Debit[] } {
  const owed = new Map<string, bigint>();
  for (const f of flows) if (!withheld.has(f.nodeId)) owed.set(f.client, (owed.get(f.client) ?? 0n) + f.fees);
  const toNodes = new Map<string, bigint>();
  const debits = new Map<string, bigint>();
  for (const f of flows) {
    if (withheld.has(f.nodeId) || f.fees === 0n) continue;
    const total = owed.get(f.client)!;
    const balance = balances.get(f.client) ?? 0n;
    const paid = balance >= total ? f.fees : (f.fees * (balance > 0n ? balance : 0n)) / total;
    if (paid === 0n) continue;
    toNodes.set(f.nodeId, (toNodes.get(f.nodeId) ?? 0n) + paid);
    debits.set(f.client, (debits.get(f.client) ?? 0n) + paid);
  }
  const byKey = <T>(m: Map<string, bigint>, make: (key: string, amount: bigint) => T): T[] =>
    [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => make(k, v));
  return {
    payouts: byKey(toNodes, (node, amount) => ({ node, amount })),
    debits: byKey(debits, (client, amount) => ({ client, amount })),
  };
}
