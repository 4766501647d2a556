import { exp } from './math.ts';

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

/** log-softmax of the model's logits, for the reported log-probabilities. */
function logSumExp(logits: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += exp(logits[i]! - max);
  return max + Math.log(sum);
}

/** The k largest entries, best first; ties go to the lower id so the order is reproducible. */
export function topIndices(values: Float32Array, k: number): number[] {
  const chosen: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (chosen.length === k && v <= values[chosen[k - 1]!]!) continue;
    let at = chosen.length === k ? k - 1 : chosen.length;
    while (at > 0 && values[chosen[at - 1]!]! < v) at--;
    chosen.splice(at, 0, i);
    if (chosen.length > k) chosen.pop();
  }
  return chosen;
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
    const id = this.greedy ? topIndices(adjusted, 1)[0]! : this.draw(adjusted);
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
    const candidates = this.candidates(logits, topK, topP);
    const maxLogit = logits[candidates[0]!]!;
    const weights = new Float64Array(candidates.length);
    let total = 0;
    for (let i = 0; i < candidates.length; i++) {
      const w = exp((logits[candidates[i]!]! - maxLogit) / temperature);
      // min-p keeps tokens at least minP times as likely as the most likely one (weight 1)
      weights[i] = w >= minP ? w : 0;
      total += weights[i]!;
    }
    let keep = candidates.length;
    if (topP < 1) {
      let cumulative = 0;
      for (let i = 0; i < keep; i++) {
        cumulative += weights[i]!;
        if (cumulative >= topP * total) {
          keep = i + 1;
          total = cumulative;
          break;
        }
      }
    }
    let r = this.rng.next() * total;
    for (let i = 0; i < keep; i++) {
      r -= weights[i]!;
      if (r < 0) return candidates[i]!;
    }
    return candidates[keep - 1]!;
  }

  /** Token ids that may be drawn, most likely first where top-k or top-p need an order (else first = most likely). */
  private candidates(logits: Float32Array, topK: number, topP: number): ArrayLike<number> & { [i: number]: number } {
    const vocab = logits.length;
    if (topK > 0 && topK < vocab) return topK <= 64 ? topIndices(logits, topK) : sortedIds(logits).subarray(0, topK);
    if (topP < 1) return sortedIds(logits);
    const ids = new Uint32Array(vocab);
    for (let i = 0; i < vocab; i++) ids[i] = i;
    const best = topIndices(logits, 1)[0]!;
    ids[best] = 0;
    ids[0] = best;
    return ids;
  }
}

function sortedIds(logits: Float32Array): Uint32Array {
  const ids = new Uint32Array(logits.length);
  for (let i = 0; i < ids.length; i++) ids[i] = i;
  return ids.sort((a, b) => logits[b]! - logits[a]! || a - b);
}
