/**
 * exp and softmax written out in f64, so their results depend only on this code (not on the
 * platform's libm): the engine's output bytes are reproducible because of it. The attention kernel
 * of wasm/kernels.ts repeats them operation for operation, and its tests hold it to these.
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
