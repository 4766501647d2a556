/**
 * The SwiGLU activation of a feed-forward block in plain JavaScript: the reference the WebAssembly
 * kernel (swigluF32 in wasm/kernels.ts) repeats operation for operation, in f32.
 */
import { expF32 } from './exact-math.ts';

const f32 = Math.fround;

/** x / (1 + e^−x), as x / (1 + e^−|x|) or x·e^−|x| / (1 + e^−|x|): the exponential never overflows. */
export function silu(x: number): number {
  const e = expF32(-Math.abs(x));
  return f32((x >= 0 ? x : f32(x * e)) / f32(1 + e));
}

/** gate[i] = silu(gate[i]) · up[i] for i < length. */
export function swiglu(gate: Float32Array, up: Float32Array, length: number): void {
  for (let i = 0; i < length; i++) gate[i] = silu(gate[i]!) * up[i]!;
}
