import { argmax, expWeights, logSumExp, topIndices } from '../tensor/softmax.ts';

/** The k largest entries, best first; ties go to the lower id so the order is reproducible. */
export { topIndices };

export interface SamplingOptions {
  /** 0 means greedy. */
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly minP?: number;
  /** > 1 discourages tokens already in `history` (CTRL-style, as llama.cpp applies it). */
  readonly repetitionPenalty?: number;
  /** How many recent tokens the penalty looks at. */
  readonly repetitionWindow?: number;
  readonly seed?: number;
}

export interface TokenLogprob {
  readonly id: number;
  readonly logprob: number;
}

export interface SampledToken extends TokenLogprob {
  /** The most likely alternatives, best first (when requested). */
  readonly top: readonly TokenLogprob[];
}

/** A small, fast, seedable generator (mulberry32) so the same seed gives the same text. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

export class Sampler {
  private readonly rng: Rng;
  constructor(private readonly options: SamplingOptions = {}) {
    this.rng = new Rng(options.seed ?? 0);
  }

  get greedy(): boolean {
    return !(this.options.temperature && this.options.temperature > 0);
  }

  /**
   * Picks the next token. Log-probabilities are those of the model (log-softmax of the raw logits),
   * whatever the sampling settings, as OpenAI's API reports them.
   */
  sample(logits: Float32Array, history: readonly number[], topLogprobs = 0): SampledToken {
    const lse = logSumExp(logits);
    const logprobOf = (id: number): number => logits[id]! - lse;
    const adjusted = this.applyPenalty(logits, history);
    const id = this.greedy ? argmax(adjusted) : this.draw(adjusted);
    const top = topLogprobs > 0 ? topIndices(logits, topLogprobs).map((t) => ({ id: t, logprob: logprobOf(t) })) : [];
    return { id, logprob: logprobOf(id), top };
  }

  private applyPenalty(logits: Float32Array, history: readonly number[]): Float32Array {
    const penalty = this.options.repetitionPenalty ?? 1;
    if (penalty === 1 || history.length === 0) return logits;
    const adjusted = Float32Array.from(logits);
    const window = this.options.repetitionWindow ?? 64;
    for (const id of new Set(history.slice(-window))) {
      const v = adjusted[id]!;
      adjusted[id] = v > 0 ? v / penalty : v * penalty;
    }
    return adjusted;
  }

  private draw(logits: Float32Array): number {
    const { temperature = 1, topK = 0, topP = 1, minP = 0 } = this.options;
    const best = argmax(logits);
    // top-k: the k best, best first; otherwise every id, in order (null)
    const ids = topK > 0 && topK < logits.length ? topIndices(logits, topK) : null;
    const values = ids ? Float32Array.from(ids, (id) => logits[id]!) : logits;
    // The same bits on every machine, so a replay after a failover draws the same token. min-p
    // keeps tokens at least minP times as likely as the most likely one (weight 1).
    const { weights, total } = expWeights(values, logits[best]!, temperature, { floor: minP, topP });
    const at = this.drawIndex(weights, total);
    if (at < 0) return best;
    return ids ? ids[at]! : at;
  }

  /** Index i drawn with probability weights[i] / total; −1 if no weight is positive. */
  private drawIndex(weights: Float32Array, total: number): number {
    let r = this.rng.next() * total;
    let last = -1;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i]!;
      if (!(w > 0)) continue;
      r -= w;
      if (r < 0) return i;
      last = i;
    }
    // r can outlast the weights by a rounding error of their total
    return last;
  }
}
