import type { AttentionShape } from './backend.ts';
import { softmax } from './exact-math.ts';

/**
 * Causal multi-head attention of the query positions [startPos, startPos + n) over the cached
 * positions [0, startPos + n), written as llama2.c writes it: per query head, scores against every
 * visible key, softmax, then the weighted sum of the values. With grouped-query attention,
 * heads / kvHeads consecutive query heads read the same key/value head.
 *
 * Arithmetic is f32, every product and every sum rounded (as f32 SIMD lanes compute; an f32
 * product or sum computed in f64 and rounded once is the f32 result), sums in dimension order for a
 * score and position order for an output: the engine's output bytes depend on exactly this. The
 * softmax is exact-math's. This is the reference that the WebAssembly kernel (attentionHead in
 * wasm/kernels.ts) is held to, bit for bit; the engine runs the kernel.
 *
 * @param out    [n × heads × headDim] the attended values, one row per query position
 * @param q      [n × heads × headDim] the queries, RoPE already applied
 * @param keys   [positions × kvHeads × headDim] the layer's cached keys, RoPE already applied
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
      const kvOffset = Math.floor(h / group) * headDim;
      // scores: q · k / sqrt(headDim) for each visible position
      for (let p = 0; p < visible; p++) {
        const kBase = p * kvSize + kvOffset;
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot = f32(dot + f32(q[qBase + d]! * keys[kBase + d]!));
        scores[p] = dot * scale;
      }
      // softmax the scores into attention weights
      softmax(scores, visible);
      // weighted sum of the values
      const outBase = t * qSize + h * headDim;
      for (let d = 0; d < headDim; d++) {
        let sum = 0;
        for (let p = 0; p < visible; p++) sum = f32(sum + f32(scores[p]! * values[p * kvSize + kvOffset + d]!));
        out[outBase + d] = sum;
      }
    }
  }
}
