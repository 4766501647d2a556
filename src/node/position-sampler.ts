import { createHash } from 'node:crypto';
import { Sampler } from '../model/sampling.ts';
import type { Sampling__Output } from '../proto/tessera/v1/Sampling.ts';
import type { SampledToken } from '../proto/tessera/v1/SampledToken.ts';

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

/** Picks the token at `position` from the logits of the position before it. */
export function sampleAt(logits: Float32Array, sampling: Sampling__Output, position: number, history: readonly number[]): SampledToken {
  const sampler = new Sampler({
    temperature: sampling.temperature,
    topK: sampling.topK,
    topP: sampling.topP > 0 ? sampling.topP : 1,
    minP: sampling.minP,
    repetitionPenalty: sampling.repetitionPenalty > 0 ? sampling.repetitionPenalty : 1,
    seed: positionSeed(sampling.seed, position),
  });
  const sampled = sampler.sample(logits, history, sampling.logprobs);
  return { token: sampled.id, logprob: sampled.logprob, top: sampled.top.map((t) => ({ token: t.id, logprob: t.logprob })) };
}
