import type { ModelConfig } from './model-files.ts';

/**
 * The activations of one forward call, as in llama2.c's RunState, kept by an engine and reused by
 * every call (a forward call is synchronous, so one engine never runs two at once). Each buffer
 * holds `positions` rows; the engine uses the first n. They grow only when a longer input arrives,
 * so a decode step allocates nothing here.
 */
export class RunState {
  /** How many positions each per-position buffer holds. */
  positions = 0;
  /** [positions × hiddenSize] the residual stream. */
  x = new Float32Array(0);
  /** [positions × hiddenSize] x after an RMSNorm, the input of each projection. */
  normed = new Float32Array(0);
  /** [positions × hiddenSize] a sublayer's output before it is added to x. */
  delta = new Float32Array(0);
  /** [positions × heads × headDim] queries. */
  q = new Float32Array(0);
  /** [positions × kvHeads × headDim] keys of the new positions, before they enter the cache. */
  k = new Float32Array(0);
  /** [positions × kvHeads × headDim] values of the new positions, before they enter the cache. */
  v = new Float32Array(0);
  /** [positions × heads × headDim] attention's output, the input of the output projection. */
  attended = new Float32Array(0);
  /** [positions × ffnSize] the FFN's gate projection, then SwiGLU's product in place. */
  gate = new Float32Array(0);
  /** [positions × ffnSize] the FFN's up projection. */
  up = new Float32Array(0);

  constructor(private readonly config: ModelConfig) {}

  /** Room for `n` new positions. */
  ensure(n: number): this {
    if (n > this.positions) {
      const { hiddenSize, heads, kvHeads, headDim, ffnSize } = this.config;
      this.x = new Float32Array(n * hiddenSize);
      this.normed = new Float32Array(n * hiddenSize);
      this.delta = new Float32Array(n * hiddenSize);
      this.q = new Float32Array(n * heads * headDim);
      this.k = new Float32Array(n * kvHeads * headDim);
      this.v = new Float32Array(n * kvHeads * headDim);
      this.attended = new Float32Array(n * heads * headDim);
      this.gate = new Float32Array(n * ffnSize);
      this.up = new Float32Array(n * ffnSize);
      this.positions = n;
    }
    return this;
  }
}
