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
  /** Slots per roster epoch: every block of an epoch is led by the daemons of that epoch's roster. */
  readonly epochSlots: number;
  /** Blocks on top of a block before it is final: no reorganization reaches it, and only final blocks are summarized. */
  readonly finalityDepth: number;
}

export const DEFAULT_CHAIN_PARAMS: ChainParams = {
  blockIntervalMs: 10_000,
  maxSharesPerBlock: 50_000,
  initialBaseFee: 1_000,
  minBaseFee: 8,
  windowBlocks: 60,
  epochSlots: 60,
  finalityDepth: 6,
};

/** Bounds that keep every token sum of a block (< 2^37) and a window (< 2^50) an exact integer. */
export const MAX_SHARES_PER_BLOCK = 100_000;
export const MAX_WINDOW_BLOCKS = 8_192;

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
  atLeast('epochSlots', 1);
  atLeast('finalityDepth', 1);
  // With MAX_SHARE_TOKENS per share these keep a window's token sums below 2^53 (exact as numbers).
  if (params.maxSharesPerBlock > MAX_SHARES_PER_BLOCK)
    problems.push(`maxSharesPerBlock must be at most ${MAX_SHARES_PER_BLOCK}, got ${params.maxSharesPerBlock}`);
  if (params.windowBlocks > MAX_WINDOW_BLOCKS)
    problems.push(`windowBlocks must be at most ${MAX_WINDOW_BLOCKS}, got ${params.windowBlocks}`);
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

/** The roster epoch a slot falls in. */
export function epochOf(slot: number, params: ChainParams): number {
  return Math.floor(slot / params.epochSlots);
}
