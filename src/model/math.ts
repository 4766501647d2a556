/**
 * The row-wise arithmetic of the forward pass done in JavaScript, written out so its results
 * depend only on this code: that is what makes the engine's output bytes reproducible.
 */

/** out = x / rms(x) * weight, per row of `size`. */
export function rmsNorm(
  out: Float32Array,
  x: Float32Array,
  weight: Float32Array,
  size: number,
  rows: number,
  eps: number,
): void {
  for (let r = 0; r < rows; r++) {
    const base = r * size;
    let sum = 0;
    for (let i = 0; i < size; i++) {
      const v = x[base + i]!;
      sum += v * v;
    }
    const scale = Math.fround(1 / Math.sqrt(sum / size + eps));
    for (let i = 0; i < size; i++) out[base + i] = Math.fround(x[base + i]! * scale) * weight[i]!;
  }
}
