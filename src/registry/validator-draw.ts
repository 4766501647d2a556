import { sha256 } from '../crypto/hash.ts';

/** A member that may be drawn to check others' work, with its stake in the smallest unit. */
export interface Candidate {
  readonly id: string;
  readonly stake: bigint;
}

const TWO_256 = 1n << 256n;

/**
 * Draws `count` validators among staked candidates by NeuroShard's rule: each scores
 * 0.7 · stake + 0.3 · r · max stake with r uniform in [0, 1) from sha256(seed ‖ id), and the highest
 * scores are drawn. The seed comes from settled share-chain history and the thing to be checked, so
 * anyone recomputes the same draw and no candidate can steer it; stake buys likelihood, not
 * certainty. Exact integers (scores scaled by 10 · 2^256), ties broken by id; unstaked candidates
 * are never drawn.
 */
export function drawValidators(candidates: readonly Candidate[], seed: Uint8Array, count: number): string[] {
  const staked = candidates.filter((c) => c.stake > 0n);
  if (staked.length === 0 || count <= 0) return [];
  const maxStake = staked.reduce((max, c) => (c.stake > max ? c.stake : max), 0n);
  const scored = staked.map((c) => {
    const r = BigInt(`0x${sha256(Buffer.concat([seed, Buffer.from(c.id, 'utf8')])).toString('hex')}`);
    return { id: c.id, score: 7n * c.stake * TWO_256 + 3n * r * maxStake };
  });
  scored.sort((a, b) => (a.score === b.score ? (a.id < b.id ? -1 : 1) : a.score > b.score ? -1 : 1));
  return scored.slice(0, count).map((s) => s.id);
}
