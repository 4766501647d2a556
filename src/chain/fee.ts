import { targetShares, type ChainParams } from './params.ts';

/** A ceiling that keeps fee sums (tokens × fee over a settlement window) within exact integers. */
export const MAX_BASE_FEE = 2 ** 40;

/**
 * The base price per token of the block after one that held `parentShares` at `parentBaseFee`,
 * in the manner of EIP-1559: it moves by (used − target) / target / 8, so at most 1/8 per block
 * since a block holds at most twice the target; a fuller-than-target block raises it by at least 1.
 * Integer arithmetic throughout, so every daemon computes the same fee.
 */
export function nextBaseFee(params: ChainParams, parentBaseFee: number, parentShares: number): number {
  const target = targetShares(params);
  const used = Math.min(parentShares, params.maxSharesPerBlock);
  const fee = BigInt(parentBaseFee);
  if (used === target) return parentBaseFee;
  if (used > target) {
    const delta = (fee * BigInt(Math.min(used - target, target))) / BigInt(target) / 8n;
    return Math.min(MAX_BASE_FEE, Number(fee + (delta > 0n ? delta : 1n)));
  }
  const delta = (fee * BigInt(target - used)) / BigInt(target) / 8n;
  return Math.max(params.minBaseFee, Number(fee - delta));
}
