import { sha256 } from '../crypto/hash.ts';
import { canonicalJson } from '../crypto/canonical-json.ts';
import type { ChainParams } from './params.ts';

import type { ClientTotals, NodeTotals } from './store.ts';

/** What one settlement window of the canonical chain recorded: the basis of its payouts. */
export interface SettlementSummary {
  readonly window: number;
  readonly fromHeight: number;
  readonly toHeight: number;
  /** Hex hash of the window's last block: the summary is of this chain and no other. */
  readonly lastBlockHash: string;
  /** By node id. */
  readonly nodes: readonly NodeTotals[];
  /** By client address. */
  readonly clients: readonly ClientTotals[];
  readonly totalShares: number;
  readonly totalWeight: number;
  readonly totalTokens: number;
  readonly totalFees: number;
  /** Hex sha256 of the canonical JSON of every field above. */
  readonly hash: string;
}

/** The heights window `window` covers: windowBlocks blocks after genesis and earlier windows. */
export function windowRange(params: ChainParams, window: number): { fromHeight: number; toHeight: number } {
  return { fromHeight: window * params.windowBlocks + 1, toHeight: (window + 1) * params.windowBlocks };
}

export function summaryHashOf(summary: Omit<SettlementSummary, 'hash'>): string {
  const {
    window,
    fromHeight,
    toHeight,
    lastBlockHash,
    nodes,
    clients,
    totalShares,
    totalWeight,
    totalTokens,
    totalFees,
  } = summary;
  return sha256(
    canonicalJson({
      window,
      fromHeight,
      toHeight,
      lastBlockHash,
      totalShares,
      totalWeight,
      totalTokens,
      totalFees,
      nodes: nodes.map(({ nodeId, shares, weight, tokens, fees }) => ({ nodeId, shares, weight, tokens, fees })),
      clients: clients.map(({ client, tokens, fees }) => ({ client, tokens, fees })),
    }),
  ).toString('hex');
}

export function makeSummary(
  window: number,
  range: { fromHeight: number; toHeight: number },
  lastBlockHash: string,
  nodes: readonly NodeTotals[],
  clients: readonly ClientTotals[],
): SettlementSummary {
  const sum = (values: readonly number[]) => {
    const total = values.reduce((a, b) => a + b, 0);
    if (!Number.isSafeInteger(total))
      throw new Error(`settlement window ${window}: a total exceeds 2^53; settle smaller windows`);
    return total;
  };
  const fields = {
    window,
    ...range,
    lastBlockHash,
    nodes,
    clients,
    totalShares: sum(nodes.map((n) => n.shares)),
    totalWeight: sum(nodes.map((n) => n.weight)),
    totalTokens: sum(nodes.map((n) => n.tokens)),
    totalFees: sum(nodes.map((n) => n.fees)),
  };
  return { ...fields, hash: summaryHashOf(fields) };
}
