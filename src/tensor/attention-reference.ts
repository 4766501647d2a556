import type { AttentionShape } from './backend.ts';
import { expF32 } from './exact-math.ts';
import { keyQuadIndex } from './key-quads.ts';

/**
 * Causal multi-head attention of the query positions [startPos, startPos + n) over the cached
 * positions [0, startPos + n), written as llama2.c writes it: per query head, scores against every
 * visible key, softmax, then the weighted sum of the values. With grouped-query attention,
 * heads / kvHeads consecutive query heads read the same key/value head.
 *
 * Arithmetic is f32, every product and every sum rounded (as f32 SIMD lanes compute; an f32
 * product or sum computed in f64 and rounded once is the f32 result), sums in dimension order for a
 * score and position order for an output: the engine's output bytes depend on exactly this. The
 * softmax weighs each value by e^(score − max) (exact-math's expF32) and divides the sum by the
 * weights' total last, once per output. This is the reference that the WebAssembly kernel
 * (attentionHead in wasm/kernels.ts) is held to, bit for bit; the engine runs the kernel.
 *
 * @param out    [n × heads × headDim] the attended values, one row per query position
 * @param q      [n × heads × headDim] the queries, RoPE already applied
 * @param keys   the layer's cached keys in quads of positions (key-quads.ts), RoPE already applied
 * @param values [positions × kvHeads × headDim] the layer's cached values
 * @param scores [≥ startPos + n] scratch for one head's attention weights
 */
export function attention(
  out: Float32Array,
  q: Float32Array,
  keys: Float32Array,
  values: Float32Array,
  scores: Float32Array,
  shape: AttentionShape,
  startPos: number,
  n: number,
): void {
  const { heads, kvHeads, headDim } = shape;
  const qSize = heads * headDim;
  const kvSize = kvHeads * headDim;
  const group = heads / kvHeads;
  const f32 = Math.fround;
  const scale = f32(1 / Math.sqrt(headDim));
  for (let t = 0; t < n; t++) {
    // causal: position startPos + t sees itself and everything before it
    const visible = startPos + t + 1;
    for (let h = 0; h < heads; h++) {
      const qBase = t * qSize + h * headDim;
      const kvHead = Math.floor(h / group);
      const kvOffset = kvHead * headDim;
      // scores: q · k / sqrt(headDim) for each visible position
      for (let p = 0; p < visible; p++) {
        const kBase = keyQuadIndex(p, kvHead, 0, kvHeads, headDim);
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot = f32(dot + f32(q[qBase + d]! * keys[kBase + 4 * d]!));
        scores[p] = dot * scale;
      }
      // the scores into attention weights, normalised in the weighted sum of the values
      const inverse = 1 / attentionWeights(scores, visible);
      const outBase = t * qSize + h * headDim;
      for (let d = 0; d < headDim; d++) {
        let sum = 0;
        for (let p = 0; p < visible; p++) sum = f32(sum + f32(scores[p]! * values[p * kvSize + kvOffset + d]!));
        out[outBase + d] = sum * inverse;
      }
    }
  }
}

/**
 * scores[p] = e^(scores[p] − max) for p < n, in place; returns their total in f64, summed as four
 * running sums (of the positions p ≡ 0, 1, 2 and 3 mod 4, each in position order) added as
 * (s0 + s1) + (s2 + s3): the order of the kernel's lanes.
 */
function attentionWeights(scores: Float32Array, n: number): number {
  let max = -Infinity;
  for (let p = 0; p < n; p++) if (scores[p]! > max) max = scores[p]!;
  const sums = [0, 0, 0, 0];
  for (let p = 0; p < n; p++) {
    const e = expF32(Math.fround(scores[p]! - max));
    scores[p] = e;
    sums[p & 3] += e;
  }
  return sums[0]! + sums[1]! + (sums[2]! + sums[3]!);
}
