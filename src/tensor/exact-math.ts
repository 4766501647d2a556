/**
 * The exponential of the forward pass written out in f32 operations, so its results depend only on
 * this code (not on the platform's libm): the engine's output bytes are reproducible because of it.
 * It is expLanes of wasm/kernels.ts (with no error term), which SwiGLU and attention use there;
 * their references here repeat it operation for operation, and the kernel tests hold them to it.
 */

const f32 = Math.fround;
/** Below it e^q is taken as 0 (4e-38: no sum notices), so 2^k is never subnormal. */
const EXP_FLOOR = -86;
const INV_LN2 = f32(1.44269504);
const LN2_HI = 0.693359375;
const LN2_LO = f32(-2.1219444e-4);
/** 1.5·2^23: adding it rounds an f32 of magnitude below 2^22 to an integer. */
const ROUNDER = 12582912;
const TAYLOR = [1 / 5040, 1 / 720, 1 / 120, 1 / 24, 1 / 6, 0.5, 1, 1].map(f32);

/**
 * e^q for q ≤ 0, about 1e-7 relative error (f32 rounding): k = round(q / ln 2), r = q − k·ln 2 in
 * two parts (Cody–Waite), the degree-7 Taylor polynomial of e^r, times 2^k; 0 below e^−86; NaN
 * stays NaN.
 */
export function expF32(q: number): number {
  if (q < EXP_FLOOR) return 0;
  const k = f32(f32(f32(q * INV_LN2) + ROUNDER) - ROUNDER);
  const r = f32(f32(q - f32(k * LN2_HI)) - f32(k * LN2_LO));
  let p = TAYLOR[0]!;
  for (let i = 1; i < TAYLOR.length; i++) p = f32(f32(p * r) + TAYLOR[i]!);
  // 2^k is exact (k in [-124, 0]), so this product rounds as the kernel's f32 product does
  return f32(p * 2 ** k);
}
