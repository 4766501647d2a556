/**
 * The SwiGLU activation of a feed-forward block in plain JavaScript: the reference the WebAssembly
 * kernel (swigluF32 in wasm/kernels.ts) repeats operation for operation.
 */
import { exp } from './exact-math.ts';

export function silu(x: number): number {
  return x / (1 + exp(-x));
}

/** gate[i] = silu(gate[i]) · up[i] for i < length, silu's result rounded to f32 first. */
export function swiglu(gate: Float32Array, up: Float32Array, length: number): void {
  for (let i = 0; i < length; i++) gate[i] = Math.fround(silu(gate[i]!)) * up[i]!;
}
