import { sha256 } from '../crypto/hash.ts';
import { canonicalJson } from '../crypto/canonical-json.ts';
import type { ChainParams } from './params.ts';
import type { FlowRow } from './store.ts';

/**
 * What one client's receipts pay one node for in a window: the tokens the node processed on
 * receipts that name it, each share priced at the base fee of the block that holds it.
 */
export interface UsageFlow {
  readonly client: string;
  readonly nodeId: string;
  readonly shares: number;
  readonly tokens: number;
  /** Σ tokens × base fee, exact. */
  readonly fees: bigint;
}

/** What one settlement window of the canonical chain recorded: the basis of its payments. */
export interface SettlementSummary {
  readonly window: number;
  readonly fromHeight: number;
  readonly toHeight: number;
  /** Hex hash of the window's last block: the summary is of this chain and no other. */
  readonly lastBlockHash: string;
  /** Sorted by client, then node. */
  readonly flows: readonly UsageFlow[];
  readonly totalShares: number;
  readonly totalTokens: number;
  readonly totalFees: bigint;
  /** Hex sha256 of the canonical JSON of every field above. */
  readonly hash: string;
}

/** The heights window `window` covers: windowBlocks blocks after genesis and earlier windows. */
export function windowRange(params: ChainParams, window: number): { fromHeight: number; toHeight: number } {
  return { fromHeight: window * params.windowBlocks + 1, toHeight: (window + 1) * params.windowBlocks };
}

/** Amounts travel as decimal strings in the hashed JSON: canonical JSON holds only safe integers. */
export function summaryHashOf(summary: Omit<SettlementSummary, 'hash'>): string {
  const { window, fromHeight, toHeight, lastBlockHash, flows, totalShares, totalTokens, totalFees } = summary;
  return sha256(
    canonicalJson({
      window,
      fromHeight,
      toHeight,
      lastBlockHash,
      totalShares,
      totalTokens,
      totalFees: String(totalFees),
      flows: flows.map(({ client, nodeId, shares, tokens, fees }) => ({
        client,
        nodeId,
        shares,
        tokens,
        fees: String(fees),
      })),
    }),
  ).toString('hex');
}

/**
 * A window's summary from its shares grouped by client, node and block (any grouping finer than
 * client and node gives the same summary). Counts stay exact: a window holds at most
 * windowBlocks × maxSharesPerBlock shares of at most MAX_SHARE_TOKENS each (params.ts bounds both),
 * and fees are BigInt.
 */
export function makeSummary(
  window: number,
  range: { fromHeight: number; toHeight: number },
  lastBlockHash: string,
  rows: readonly FlowRow[],
): SettlementSummary {
  const byPair = new Map<string, { client: string; nodeId: string; shares: number; tokens: number; fees: bigint }>();
  for (const row of rows) {
    const key = `${row.client}/${row.nodeId}`;
    let flow = byPair.get(key);
    if (flow === undefined)
      byPair.set(key, (flow = { client: row.client, nodeId: row.nodeId, shares: 0, tokens: 0, fees: 0n }));
    flow.shares += row.shares;
    flow.tokens += row.tokens;
    flow.fees += BigInt(row.tokens) * BigInt(row.baseFee);
  }
  const flows = [...byPair.values()].sort((a, b) =>
    a.client === b.client ? (a.nodeId < b.nodeId ? -1 : 1) : a.client < b.client ? -1 : 1,
  );
  for (const flow of flows)
    if (!Number.isSafeInteger(flow.tokens))
      throw new Error(`settlement window ${window}: a token total exceeds 2^53; the chain's bounds were not applied`);
  const fields = {
    window,
    ...range,
    lastBlockHash,
    flows,
    totalShares: flows.reduce((sum, f) => sum + f.shares, 0),
    totalTokens: flows.reduce((sum, f) => sum + f.tokens, 0),
    totalFees: flows.reduce((sum, f) => sum + f.fees, 0n),
  };
  return { ...fields, hash: summaryHashOf(fields) };
}
