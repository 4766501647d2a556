/**
 * What the sampler needs from a vocabulary's logits, by the WebAssembly SIMD kernels of
 * wasm/kernels.ts ("Softmax sums"): the greedy choice, the top k, the log-sum-exp behind reported
 * log-probabilities, and temperature weights with min-p and top-p applied, none of it sorting the
 * vocabulary. Plain IEEE arithmetic in a fixed order, so every machine gets the same bits. The
 * kernels run on the calling thread, in a memory of their own (so they need no backend), compiled
 * and made on first use.
 */
import { compileKernelsSync, instantiateKernels, type KernelExports } from './wasm-kernels.ts';

const PAGE = 65536;
const MAX_PAGES = 65536;
/** The kernels take whole groups of this many values. */
const GROUP = 16;

class SoftmaxKernels {
  private readonly memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
  private readonly kernels: KernelExports = instantiateKernels(compileKernelsSync(), this.memory);
  /** Below it: the kernels' own tables. */
  private readonly base = Math.ceil((this.kernels.heapBase.value as number) / 64) * 64;

  argmax(values: Float32Array): number {
    // NaN padding: neither the maximum nor equal to it
    const { x, n } = this.load(values, Number.NaN, 0);
    const at = this.kernels.firstIndexF32(x, n, this.kernels.maxF32(x, n));
    return at < 0 ? 0 : at;
  }

  topIndices(values: Float32Array, k: number): number[] {
    if (k <= 0) return [];
    const { x, n } = this.load(values, Number.NaN, 1);
    // The k-th largest value: only it and the values above get sorted, not a vocabulary.
    const { cut } = largestReaching(this.kernels.maxF32(x, n), k, (t) => this.kernels.countAtLeastF32(x, n, t));
    return Array.from(this.indicesAtLeast(x, n, cut, x + n * 4))
      .sort((a, b) => values[b]! - values[a]! || a - b)
      .slice(0, k);
  }

  logSumExp(values: Float32Array): number {
    const { x, n } = this.load(values, -Infinity, 0);
    const max = this.kernels.maxF32(x, n);
    return max + Math.log(this.kernels.sumExpF32(x, n, max));
  }

  expWeights(
    values: Float32Array,
    shift: number,
    temperature: number,
    { floor = 0, topP = 1 }: WeightOptions,
  ): Weights {
    const { x, n } = this.load(values, -Infinity, 2);
    const w = x + n * 4;
    const total = this.kernels.expWeightsF32(x, n, shift, 1 / temperature, floor, w);
    const weights = new Float32Array(this.memory.buffer, w, values.length);
    if (topP >= 1) return { weights: weights.slice(), total };
    // The smallest value whose weight and those of the larger values reach the target.
    const target = topP * total;
    const { cut, above } = largestReaching(shift, target, (t) => this.kernels.sumAtLeastF32(x, w, n, t));
    this.kernels.zeroBelowF32(x, w, n, cut);
    // Values tied at the cut count in index order until the target is reached (by at least one
    // value, for a target of 0), as a sort by value then index would take them.
    let kept = above;
    for (const i of this.indicesAtLeast(x, n, cut, w + n * 4)) {
      if (values[i] !== cut) continue;
      if (kept >= target && kept > 0) weights[i] = 0;
      else kept += weights[i]!;
    }
    return { weights: weights.slice(), total: kept };
  }

  private indicesAtLeast(x: number, n: number, threshold: number, out: number): Int32Array {
    return new Int32Array(this.memory.buffer, out, this.kernels.indicesAtLeastF32(x, n, threshold, out));
  }

  /** Copies `values` in, padded to whole groups with `pad`, with room after them for `outputs` arrays as long. */
  private load(values: Float32Array, pad: number, outputs: number): { x: number; n: number } {
    const n = Math.ceil(values.length / GROUP) * GROUP;
    const end = this.base + n * 4 * (1 + outputs);
    const size = this.memory.buffer.byteLength;
    if (end > size) this.memory.grow(Math.ceil((end - size) / PAGE));
    const x = new Float32Array(this.memory.buffer, this.base, n);
    x.set(values);
    x.fill(pad, values.length);
    return { x: this.base, n };
  }
}

const keyFloat = new Float32Array(1);
const keyBits = new Uint32Array(keyFloat.buffer);

/** An f32 as an unsigned integer in the same order (−∞ lowest, then up to +∞; NaNs beyond). */
function orderKey(value: number): number {
  keyFloat[0] = value;
  const bits = keyBits[0]!;
  return bits >= 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
}

function fromOrderKey(key: number): number {
  keyBits[0] = key >= 0x80000000 ? key & 0x7fffffff : ~key >>> 0;
  return keyFloat[0]!;
}

/**
 * The largest f32 `cut` up to `top` at which `reach`, a non-increasing function of a threshold (a
 * count or a sum of the values at least the threshold), is at least `target`, and `above`, its
 * value just above the cut. By bisection over the f32 values in order: about 32 passes over the
 * values, far cheaper than sorting a vocabulary. −∞ if no cut reaches the target.
 */
function largestReaching(
  top: number,
  target: number,
  reach: (threshold: number) => number,
): { cut: number; above: number } {
  // invariant: reach(lo) ≥ target > reach(hi) = above (lo = −∞ is assumed to reach it)
  let lo = orderKey(top);
  let hi = lo + 1;
  let above = reach(fromOrderKey(hi));
  const atTop = reach(top);
  if (atTop < target) {
    hi = lo;
    above = atTop;
    lo = orderKey(-Infinity);
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      const value = reach(fromOrderKey(mid));
      if (value >= target) {
        lo = mid;
      } else {
        hi = mid;
        above = value;
      }
    }
  }
  return { cut: fromOrderKey(lo), above };
}

let instance: SoftmaxKernels | undefined;

function kernels(): SoftmaxKernels {
  return (instance ??= new SoftmaxKernels());
}

/** The lowest index of the largest value; NaNs are never chosen (all NaN, or none: 0). */
export function argmax(values: Float32Array): number {
  return kernels().argmax(values);
}

/** The indices of the k largest values (all that are not NaN, if fewer), largest first, ties to the lower index. */
export function topIndices(values: Float32Array, k: number): number[] {
  return kernels().topIndices(values, k);
}

/**
 * log Σ_i e^(values_i), within about 3e-7 (the sum's relative error). NaN in, NaN out; −∞ entries
 * count as nothing.
 */
export function logSumExp(values: Float32Array): number {
  return kernels().logSumExp(values);
}

export interface Weights {
  readonly weights: Float32Array;
  /** Σ weights, within about 3e-7. */
  readonly total: number;
}

export interface WeightOptions {
  /** Weights below it are 0 (min-p, when the largest weight is 1). */
  readonly floor?: number;
  /**
   * Below 1: only the largest values whose weights make up this fraction of the total keep theirs
   * (top-p; of values tied at the cut, those of lower index first), and the total is theirs.
   */
  readonly topP?: number;
}

/**
 * e^((values_i − shift) / temperature) for each i, or 0 where that is below e^−86 or NaN, for a
 * `shift` at least every value and temperature > 0; see WeightOptions for the rest. The exponent
 * is formed to f32 precision, so a weight's relative error is about 1e-7·(2 + |exponent|).
 */
export function expWeights(
  values: Float32Array,
  shift: number,
  temperature: number,
  options: WeightOptions = {},
): Weights {
  return kernels().expWeights(values, shift, temperature, options);
}
