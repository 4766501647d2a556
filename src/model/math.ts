/**
 * The scalar functions of the forward pass, written out so their results depend only on this code
 * (not on the platform's libm): that is what makes the engine's output bytes reproducible.
 */

const LN2_HI = 6.9314718036912381649e-1;
const LN2_LO = 1.90821492927058770002e-10;
const INV_LN2 = 1.442695040888963387;
const scratch = new Float64Array(1);
const scratchWords = new Uint32Array(scratch.buffer);
// The word holding a double's sign and exponent: index 1 on little-endian machines.
const HIGH_WORD = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** 2^k for integer k in [-1022, 1023], built from its exponent bits (no BigInt: this is hot). */
function powerOfTwo(k: number): number {
  scratchWords[1 - HIGH_WORD] = 0;
  scratchWords[HIGH_WORD] = (k + 1023) << 20;
  return scratch[0]!;
}

/** e^x to about 1e-15 relative error: Cody–Waite reduction, then a degree-12 Taylor polynomial. */
export function exp(x: number): number {
  if (x !== x) return x;
  if (x > 709) return Infinity;
  if (x < -745) return 0;
  const k = Math.round(x * INV_LN2);
  const r = x - k * LN2_HI - k * LN2_LO;
  let p = 1 / 479001600;
  p = p * r + 1 / 39916800;
  p = p * r + 1 / 3628800;
  p = p * r + 1 / 362880;
  p = p * r + 1 / 40320;
  p = p * r + 1 / 5040;
  p = p * r + 1 / 720;
  p = p * r + 1 / 120;
  p = p * r + 1 / 24;
  p = p * r + 1 / 6;
  p = p * r + 0.5;
  p = p * r + 1;
  p = p * r + 1;
  // Split the scale so subnormal results (k < -1022) are still reached.
  if (k < -1000) return p * powerOfTwo(k + 200) * powerOfTwo(-200);
  return p * powerOfTwo(k);
}

export function silu(x: number): number {
  return x / (1 + exp(-x));
}

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

/** In-place softmax of values[0, n). */
export function softmax(values: Float32Array, n: number): void {
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (values[i]! > max) max = values[i]!;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.fround(exp(values[i]! - max));
    values[i] = e;
    sum += e;
  }
  const inv = 1 / sum;
  for (let i = 0; i < n; i++) values[i] = values[i]! * inv;
}
