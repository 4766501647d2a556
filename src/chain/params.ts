/**
 * The rules every daemon of one chain shares. They are written into the genesis block, so daemons
 * with different rules have different genesis hashes and refuse each other's blocks.
 */
export interface ChainParams {
  /** A slot's length: at most one block per slot. */
  readonly blockIntervalMs: number;
  /** A block's capacity in shares; the fee steers toward half of it. */
  readonly maxSharesPerBlock: number;
  /** The base price per token of block 1, in the cluster's smallest unit. */
  readonly initialBaseFee: number;
  /** The base fee never falls below this (at least 8, so a 1/8 step still moves it). */
  readonly minBaseFee: number;
  /** Blocks per settlement window: window w holds heights w·windowBlocks + 1 … (w + 1)·windowBlocks. */
  readonly windowBlocks: number;
}

export const DEFAULT_CHAIN_PARAMS: ChainParams = {
  blockIntervalMs: 10_000,
  maxSharesPerBlock: 50_000,
  initialBaseFee: 1_000,
  minBaseFee: 8,
  windowBlocks: 60,
};

export function checkChainParams(params: ChainParams): ChainParams {
  const problems: string[] = [];
  const atLeast = (name: keyof ChainParams, min: number) => {
    if (!Number.isSafeInteger(params[name]) || params[name] < min)
      problems.push(`${name} must be an integer of at least ${min}, got ${params[name]}`);
  };
  atLeast('blockIntervalMs', 10);
  atLeast('maxSharesPerBlock', 2);
  atLeast('minBaseFee', 8);
  atLeast('initialBaseFee', params.minBaseFee);
  atLeast('windowBlocks', 1);
  if (problems.length > 0) throw new Error(`chain parameters: ${problems.join('; ')}`);
  return params;
}

export function targetShares(params: ChainParams): number {
  return Math.floor(params.maxSharesPerBlock / 2);
}

/** The slot a moment falls in. */
export function slotOf(timestampMs: number, params: ChainParams): number {
  return Math.floor(timestampMs / params.blockIntervalMs);
}

/** The daemon that produces the block of `slot`: round robin over the sorted daemon ids. */
export function leaderOf(slot: number, daemonIds: readonly string[]): string {
  if (daemonIds.length === 0) throw new Error('no daemon to lead the slot');
  const sorted = [...new Set(daemonIds)].sort();
  return sorted[slot % sorted.length]!;
}
