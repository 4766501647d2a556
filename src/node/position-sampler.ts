import { createHash } from 'node:crypto';
import { Sampler } from '../model/sampling.ts';
import type { Sampling__Output } from '../proto/tessera/v1/Sampling.ts';
import type { SampledResult } from '../protocol/commitment.ts';

/** OpenAI's API allows at most 20 alternatives per token. */
export const MAX_LOGPROBS = 20;

/**
 * The random seed for the token sampled at `position`: a function of the session's seed and the
 * position only, so replaying a session from any position draws the same tokens.
 */
export function positionSeed(seed: number, position: number): number {
  const input = Buffer.alloc(12);
  input.writeBigUInt64LE(BigInt(seed));
  input.writeUInt32LE(position, 8);
  return createHash('sha256').update(input).digest().readUInt32LE(0);
}

/** Greedy sampling without a penalty draws nothing and keeps no state: one sampler serves every step. */
const PLAIN_GREEDY = new Sampler();

function samplerAt(sampling: Sampling__Output, position: number): Sampler {
  const greedy = !(sampling.temperature > 0);
  const repetitionPenalty = sampling.repetitionPenalty > 0 ? sampling.repetitionPenalty : 1;
  if (greedy && repetitionPenalty === 1) return PLAIN_GREEDY;
  return new Sampler({
    temperature: sampling.temperature,
    topK: sampling.topK,
    topP: sampling.topP > 0 ? sampling.topP : 1,
    minP: sampling.minP,
    repetitionPenalty,
    // A greedy choice draws nothing: no seed to derive.
    seed: greedy ? 0 : positionSeed(sampling.seed, position),
  });
}

/** Picks the token at `position` from the logits of the position before it. */
export function sampleAt(
  logits: Float32Array,
  sampling: Sampling__Output,
  position: number,
  history: readonly number[],
): SampledResult {
  const sampled = samplerAt(sampling, position).sample(logits, history, sampling.logprobs);
  return {
    token: sampled.id,
    logprob: sampled.logprob,
    top: sampled.top.map((t) => ({ token: t.id, logprob: t.logprob })),
  };
}
