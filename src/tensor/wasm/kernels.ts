// WebAssembly SIMD kernels: products of weight rows, read in their GGML block layout, with
// activation vectors, the sampler's softmax sums, SwiGLU, and (at the end) attention over a KV cache.
// Compiled by AssemblyScript (`npm run build:wasm`); every argument that names memory is a byte
// address in the one shared memory.
//
// Determinism: each output is computed by one fixed sequence of float operations that depends
// only on its weight row and its token's activations. Kernels that compute several outputs at
// once keep each in its own SIMD lane (four tokens of one row, or four rows of one token) or in a
// scalar, and apply to it exactly that sequence; no kernel looks at the row range or token count
// it was given. Quantized products sum integers within a block (exact, so how they are summed does
// not matter) and then accumulate floats in a fixed order. No relaxed SIMD and no fused
// multiply-add exist here, so no platform can differ.
//
// Speed notes (V8's optimizing compiler): it hoists every load of a basic block to its top, so
// large unrolled bodies spill registers; inner loops here stay one block (or one 64-weight chunk)
// long, or are split by orderAfter, and step pointers rather than recomputing addresses. Loads
// with a constant offset (`load(p, 16)`) fold it into the instruction.
//
// Matmul kernels share one signature:
//   (w, cols, r0, r1, nTok, x, xd, out, rows)
// w: row 0 of the weights; rows [r0, r1) are computed for tokens 0..nTok-1 and written to
// out[t*rows + r] (f32). x: the activations, nTok rows of `cols`, f32 for float weights and int16
// for quantized ones; xd: their scale records (see quantizeActivations; unused for float weights).

// ---------------------------------------------------------------------------------------------
// Helpers

/** Lane `lane` (a constant) of an int32x4, in all four lanes. */
@inline function splatLane(v: v128, lane: i32): v128 {
  if (lane == 0) return i32x4.shuffle(v, v, 0, 0, 0, 0);
  if (lane == 1) return i32x4.shuffle(v, v, 1, 1, 1, 1);
  if (lane == 2) return i32x4.shuffle(v, v, 2, 2, 2, 2);
  return i32x4.shuffle(v, v, 3, 3, 3, 3);
}

/** Lane sum in a fixed pairing. */
@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) +
    (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** 2^112: moves an f16 exponent (bias 15), placed in an f32's exponent field, to bias 127. */
const HALF_REBIAS: f32 = 5.192296858534828e33;

/**
 * Exact f16 -> f32, subnormals, infinities and NaNs included: the 15 magnitude bits moved into
 * f32 position and multiplied by 2^112 give every finite value exactly (subnormals too); exponent
 * 31 comes out as a finite 2^16·1.m, whose exponent field is then filled with ones.
 */
@inline function halfToF32(h: u32): f32 {
  const v = reinterpret<f32>((h & 0x7fff) << 13) * HALF_REBIAS;
  // (h & 0x7c00) + 0x400 reaches bit 15 exactly when the exponent is 31.
  const special = (((h & 0x7c00) + 0x400) >> 15) * 0x7f800000;
  return reinterpret<f32>(reinterpret<u32>(v) | special | ((h & 0x8000) << 16));
}

/**
 * Low memory layout: the first page stays unused (no valid address is 0), then a table of all
 * 65536 f16 values widened. Block scales are converted by one load from it, several times cheaper
 * than halfToF32 in a matvec's inner loop. The backend allocates from heapBase upwards.
 */
const HALF_TABLE: usize = 65536;
export const heapBase: usize = HALF_TABLE + (65536 << 2);

/** Fills the f16 table; called once, before any kernel, by the thread that created the memory. */
export function initHalfTable(): void {
  for (let h: u32 = 0; h < 65536; h++) store<f32>(HALF_TABLE + (<usize>h << 2), halfToF32(h));
}

/** The f16 at p widened (see HALF_TABLE). */
@inline function loadHalf(p: usize): f32 {
  return load<f32>(HALF_TABLE + (<usize>load<u16>(p) << 2));
}

/** halfToF32 on four u16 values held in i32 lanes. */
@inline function halfToF32x4(h: v128): v128 {
  const v = f32x4.mul(i32x4.shl(v128.and(h, i32x4.splat(0x7fff)), 13), f32x4.splat(HALF_REBIAS));
  const special = v128.and(i32x4.eq(v128.and(h, i32x4.splat(0x7c00)), i32x4.splat(0x7c00)), i32x4.splat(0x7f800000));
  return v128.or(v128.or(v, special), i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16));
}

/** Integer dot product of 32 int16 weights (four vectors) with 32 int16 activations at x. */
@inline function dot32(w0: v128, w1: v128, w2: v128, w3: v128, x: usize): v128 {
  return i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(w0, v128.load(x)), i32x4.dot_i16x8_s(w1, v128.load(x, 16))),
    i32x4.add(i32x4.dot_i16x8_s(w2, v128.load(x, 32)), i32x4.dot_i16x8_s(w3, v128.load(x, 48))));
}

/**
 * Makes v computed before any later load. V8 places a basic block's loads, in program order,
 * ahead of the arithmetic on them, so a long block keeps every loaded vector live at once and
 * spills; storing a lane of v (to `at`, an output slot the caller overwrites later) stops later
 * loads from moving above it and so splits the block into short load-then-compute runs.
 */
@inline function orderAfter(at: usize, v: v128): void {
  v128.store32_lane(at, v, 0);
}

/** Lane j of v to out + j·stride, for all four lanes (one output per token). */
@inline function storeTokens(out: usize, stride: usize, v: v128): void {
  store<f32>(out, f32x4.extract_lane(v, 0));
  store<f32>(out + stride, f32x4.extract_lane(v, 1));
  store<f32>(out + 2 * stride, f32x4.extract_lane(v, 2));
  store<f32>(out + 3 * stride, f32x4.extract_lane(v, 3));
}

/**
 * Rows per tile of a multi-token product: a tile's weights (about 128 KiB) stay in cache while
 * every token passes over them, so each weight is read from memory once per product.
 */
@inline function tileRows(rowBytes: usize): i32 {
  return max(1, <i32>(<usize>131072 / rowBytes));
}

// ---------------------------------------------------------------------------------------------
// Activation quantization

/**
 * Bytes of one scale record: the scales of four tokens for one activation block (f32 each), then,
 * for 32-blocks, their sums (int32 each), or for 256-blocks, the eight sums of each token's 32s
 * (int16, 16 bytes a token).
 */
@inline function recordBytes(block: i32): usize {
  return block == 32 ? 32 : 80;
}

/**
 * Quantizes nTok rows of `cols` f32 values at x (cols a multiple of `block`, 32 or 256) to int16
 * values in -127..127 at qs (same layout), with one f32 scale per block (scale = max|x| / 127,
 * values rounded to nearest even). Scales, and when withSums the sums of every 32 quantized
 * values, go to records at ds (see recordBytes): the record of block b and tokens 4g..4g+3 is
 * number b·G + g, G = ⌈nTok/4⌉, and token t takes its lane t mod 4. Lanes past nTok stay unset.
 */
export function quantizeActivations(x: usize, cols: i32, nTok: i32, block: i32, qs: usize, ds: usize, withSums: bool): void {
  const nb = cols / block, groups = (nTok + 3) >> 2, rb = recordBytes(block);
  for (let t = 0; t < nTok; t++) {
    const lane = <usize>(t & 3);
    for (let b = 0; b < nb; b++) {
      const at = <usize>(t * cols + b * block);
      const rec = ds + <usize>(b * groups + (t >> 2)) * rb;
      let m = f32x4.splat(0);
      for (let i = 0; i < block; i += 4) m = f32x4.max(m, f32x4.abs(v128.load(x + ((at + i) << 2))));
      const amax = max(max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)),
        max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
      const d: f32 = amax / 127;
      const id = f32x4.splat(d != 0 ? <f32>1 / d : 0);
      store<f32>(rec + (lane << 2), d);
      for (let i = 0; i < block; i += 32) {
        let sum = i32x4.splat(0);
        for (let k = 0; k < 32; k += 8) {
          const e = at + i + k;
          const lo = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(x + (e << 2)), id)));
          const hi = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(x + (e << 2), 16), id)));
          const q = i16x8.narrow_i32x4_s(lo, hi);
          v128.store(qs + (e << 1), q);
          sum = i32x4.add(sum, i32x4.extadd_pairwise_i16x8_s(q));
        }
        if (!withSums) continue;
        const total = i32x4.extract_lane(sum, 0) + i32x4.extract_lane(sum, 1) +
          i32x4.extract_lane(sum, 2) + i32x4.extract_lane(sum, 3);
        if (block == 32) store<i32>(rec + 16 + (lane << 2), total);
        else store<i16>(rec + 16 + (lane << 4) + <usize>(i >> 4), total);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Float weights (f32, f16, bf16) x f32 activations
//
// Order per output: two f32x4 accumulators take alternate groups of four columns, then
// hsum(acc0 + acc1), then the columns past the last multiple of 8 one by one.

const F32: i32 = 0;
const F16: i32 = 1;
const BF16: i32 = 2;

@inline function floatBytes(fmt: i32): i32 {
  return fmt == F32 ? 4 : 2;
}

/** Four consecutive weights at p widened to f32x4. */
@inline function widen4(fmt: i32, p: usize): v128 {
  if (fmt == F32) return v128.load(p);
  if (fmt == BF16) return i32x4.shl(v128.load16x4_u(p), 16);
  return halfToF32x4(v128.load16x4_u(p));
}

@inline function widen1(fmt: i32, p: usize): f32 {
  if (fmt == F32) return load<f32>(p);
  if (fmt == BF16) return reinterpret<f32>(<u32>load<u16>(p) << 16);
  return loadHalf(p);
}

@inline function dotFloat1(fmt: i32, w: usize, x: usize, cols: i32): f32 {
  const eb = floatBytes(fmt);
  const main = cols & ~7;
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
  for (let c = 0; c < main; c += 8) {
    const wp = w + c * eb, xp = x + (c << 2);
    a0 = f32x4.add(a0, f32x4.mul(widen4(fmt, wp), v128.load(xp)));
    a1 = f32x4.add(a1, f32x4.mul(widen4(fmt, wp + 4 * eb), v128.load(xp, 16)));
  }
  let s = hsum(f32x4.add(a0, a1));
  for (let c = main; c < cols; c++) s += widen1(fmt, w + c * eb) * load<f32>(x + (c << 2));
  return s;
}

/** dotFloat1 for the four tokens at x, x+xStride, ... sharing each weight load. */
@inline function dotFloat4(fmt: i32, w: usize, x: usize, xStride: usize, cols: i32, out: usize, outStride: usize): void {
  const eb = floatBytes(fmt);
  const main = cols & ~7;
  const x1 = x + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a10 = f32x4.splat(0), a11 = f32x4.splat(0);
  let a20 = f32x4.splat(0), a21 = f32x4.splat(0), a30 = f32x4.splat(0), a31 = f32x4.splat(0);
  for (let c = 0; c < main; c += 8) {
    const wp = w + c * eb, o: usize = c << 2;
    const w0 = widen4(fmt, wp), w1 = widen4(fmt, wp + 4 * eb);
    a00 = f32x4.add(a00, f32x4.mul(w0, v128.load(x + o)));
    a01 = f32x4.add(a01, f32x4.mul(w1, v128.load(x + o, 16)));
    a10 = f32x4.add(a10, f32x4.mul(w0, v128.load(x1 + o)));
    a11 = f32x4.add(a11, f32x4.mul(w1, v128.load(x1 + o, 16)));
    a20 = f32x4.add(a20, f32x4.mul(w0, v128.load(x2 + o)));
    a21 = f32x4.add(a21, f32x4.mul(w1, v128.load(x2 + o, 16)));
    a30 = f32x4.add(a30, f32x4.mul(w0, v128.load(x3 + o)));
    a31 = f32x4.add(a31, f32x4.mul(w1, v128.load(x3 + o, 16)));
  }
  let s0 = hsum(f32x4.add(a00, a01)), s1 = hsum(f32x4.add(a10, a11));
  let s2 = hsum(f32x4.add(a20, a21)), s3 = hsum(f32x4.add(a30, a31));
  for (let c = main; c < cols; c++) {
    const wv = widen1(fmt, w + c * eb), o: usize = c << 2;
    s0 += wv * load<f32>(x + o);
    s1 += wv * load<f32>(x1 + o);
    s2 += wv * load<f32>(x2 + o);
    s3 += wv * load<f32>(x3 + o);
  }
  store<f32>(out, s0);
  store<f32>(out + outStride, s1);
  store<f32>(out + 2 * outStride, s2);
  store<f32>(out + 3 * outStride, s3);
}

@inline function matmulFloat(fmt: i32, w: usize, cols: i32, r0: i32, r1: i32, nTok: i32, x: usize, out: usize, rows: i32): void {
  const rowBytes = <usize>cols * floatBytes(fmt);
  const xStride = <usize>cols << 2, outStride = <usize>rows << 2;
  const tile = tileRows(rowBytes);
  for (let rt = r0; rt < r1; rt += tile) {
    const re = min(rt + tile, r1);
    let t = 0;
    for (; t + 4 <= nTok; t += 4) {
      for (let r = rt; r < re; r++) {
        const row = w + <usize>r * rowBytes, o = out + (<usize>r << 2);
        dotFloat4(fmt, row, x + <usize>t * xStride, xStride, cols, o + <usize>t * outStride, outStride);
      }
    }
    for (; t < nTok; t++) {
      for (let r = rt; r < re; r++) {
        const row = w + <usize>r * rowBytes, o = out + (<usize>r << 2);
        store<f32>(o + <usize>t * outStride, dotFloat1(fmt, row, x + <usize>t * xStride, cols));
      }
    }
  }
}

export function matmulF32(w: usize, cols: i32, r0: i32, r1: i32, nTok: i32, x: usize, xd: usize, out: usize, rows: i32): void {
  matmulFloat(F32, w, cols, r0, r1, nTok, x, out, rows);
}

export function matmulF16(w: usize, cols: i32, r0: i32, r1: i32, nTok: i32, x: usize, xd: usize, out: usize, rows: i32): void {
  matmulFloat(F16, w, cols, r0, r1, nTok, x, out, rows);
}

export function matmulBF16(w: usize, cols: i32, r0: i32, r1: i32, nTok: i32, x: usize, xd: usize, out: usize, rows: i32): void {
  matmulFloat(BF16, w, cols, r0, r1, nTok, x, out, rows);
}

// ---------------------------------------------------------------------------------------------
// Q8_0 and Q4_0 weights x activations quantized per 32 (int16 values, f32 scale per block)
//
// Order per output: acc = 0, then for each block in turn acc += f32(isum) · (dw · dx), in f32,
// where isum is the block's exact integer dot product. Kernels compute four outputs at once, one
// per lane of an f32x4: four tokens of one row (sharing each block's decoded weights, with up to
// eight tokens a pass), or, for single tokens and those left over past a multiple of 4, four
// rows of one token (sharing the activation loads); every lane performs exactly that sequence.

const Q8_0: i32 = 8;
const Q4_0: i32 = 2;

@inline function block32Bytes(fmt: i32): usize {
  return fmt == Q8_0 ? 34 : 18;
}

/** [Σa, Σb, Σc, Σd] of four int32x4 (exact). */
@inline function sum4x4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = i32x4.add(i32x4.shuffle(a, b, 0, 4, 1, 5), i32x4.shuffle(a, b, 2, 6, 3, 7));
  const cd = i32x4.add(i32x4.shuffle(c, d, 0, 4, 1, 5), i32x4.shuffle(c, d, 2, 6, 3, 7));
  return i32x4.add(i32x4.shuffle(ab, cd, 0, 1, 4, 5), i32x4.shuffle(ab, cd, 2, 3, 6, 7));
}

/** The f16 at p widened (see HALF_TABLE), in all four lanes. */
@inline function splatHalf(p: usize): v128 {
  return v128.load32_splat(HALF_TABLE + (<usize>load<u16>(p) << 2));
}

/** v with lane `lane` (1, 2 or 3) replaced by the f16 at p widened. */
@inline function insertHalf(v: v128, p: usize, lane: i32): v128 {
  const at = HALF_TABLE + (<usize>load<u16>(p) << 2);
  if (lane == 1) return v128.load32_lane(at, v, 1);
  if (lane == 2) return v128.load32_lane(at, v, 2);
  return v128.load32_lane(at, v, 3);
}

/**
 * Integer dot product (int32x4 of partial sums) of the 32-block at p with 32 int16 activations
 * x0..x3. Q4_0 uses its raw nibbles 0..15: bytes 0-7 and 8-15 hold elements 0-15 in their low
 * nibbles and 16-31 in their high nibbles; the −8 offset is applied through the activation sums.
 */
@inline function q32Dot(fmt: i32, p: usize, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  if (fmt == Q8_0) {
    return i32x4.add(
      i32x4.add(i32x4.dot_i16x8_s(v128.load8x8_s(p, 2), x0), i32x4.dot_i16x8_s(v128.load8x8_s(p, 10), x1)),
      i32x4.add(i32x4.dot_i16x8_s(v128.load8x8_s(p, 18), x2), i32x4.dot_i16x8_s(v128.load8x8_s(p, 26), x3)));
  }
  const lo = v128.load8x8_u(p, 2), hi = v128.load8x8_u(p, 10), m = i16x8.splat(15);
  return i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(v128.and(lo, m), x0), i32x4.dot_i16x8_s(v128.and(hi, m), x1)),
    i32x4.add(i32x4.dot_i16x8_s(i16x8.shr_u(lo, 4), x2), i32x4.dot_i16x8_s(i16x8.shr_u(hi, 4), x3)));
}

/**
 * Four rows of one token: rows at p0, p0+o1, p0+o2, p0+o3 (offsets may repeat a row) against the
 * activations at x, whose scale (and sum) is at dp0 and then every dStep bytes.
 */
@inline function dotBlocks32Rows4(fmt: i32, p0: usize, o1: usize, o2: usize, o3: usize, nb: i32,
  x: usize, dp0: usize, dStep: usize, fence: usize): v128 {
  const bs = block32Bytes(fmt);
  let acc = f32x4.splat(0);
  const end = p0 + <usize>nb * bs;
  for (let p = p0, xp = x, dp = dp0; p < end; p += bs, xp += 64, dp += dStep) {
    const x0 = v128.load(xp), x1 = v128.load(xp, 16), x2 = v128.load(xp, 32), x3 = v128.load(xp, 48);
    const p1 = p + o1, p2 = p + o2, p3 = p + o3;
    const s0 = q32Dot(fmt, p, x0, x1, x2, x3);
    orderAfter(fence, s0);
    const s1 = q32Dot(fmt, p1, x0, x1, x2, x3);
    orderAfter(fence, s1);
    const s2 = q32Dot(fmt, p2, x0, x1, x2, x3);
    orderAfter(fence, s2);
    let isum = sum4x4(s0, s1, s2, q32Dot(fmt, p3, x0, x1, x2, x3));
    if (fmt == Q4_0) isum = i32x4.sub(isum, i32x4.shl(v128.load32_splat(dp, 16), 3));
    const dw = insertHalf(insertHalf(insertHalf(splatHalf(p), p1, 1), p2, 2), p3, 3);
    acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(isum), f32x4.mul(dw, v128.load32_splat(dp))));
  }
  return acc;
}

/**
 * One block's terms f32(isum) · (dw · dx) for four tokens (one per lane): weights w0..w3 (int16,
 * see q32Dot) of the block at p, activations at x and every xStride after, scale record `rec` of
 * `groups` at dp.
 */
@inline function blockTokens4(fmt: i32, p: usize, w0: v128, w1: v128, w2: v128, w3: v128, x: usize, xStride: usize,
  dp: usize, rec: i32, groups: i32, fence: usize): v128 {
  const s0 = dot32(w0, w1, w2, w3, x);
  orderAfter(fence, s0);
  const s1 = dot32(w0, w1, w2, w3, x + xStride);
  orderAfter(fence, s1);
  const s2 = dot32(w0, w1, w2, w3, x + 2 * xStride);
  orderAfter(fence, s2);
  let isum = sum4x4(s0, s1, s2, dot32(w0, w1, w2, w3, x + 3 * xStride));
  if (fmt == Q4_0) isum = i32x4.sub(isum, i32x4.shl(rec == 0 ? v128.load(dp, 16) : v128.load(dp, 48), 3));
  if (rec + 1 < groups) orderAfter(fence, isum);
  return f32x4.mul(f32x4.convert_i32x4_s(isum), f32x4.mul(splatHalf(p), rec == 0 ? v128.load(dp) : v128.load(dp, 32)));
}

/**
 * One row against `groups` (1 or 2) groups of four tokens, whose activations lie xStride apart and
 * whose scale records start at dp0 (one group's after the other's). Stores the results to `at`
 * and every outStride after.
 */
@inline function dotBlocks32Tokens(fmt: i32, groups: i32, w: usize, nb: i32, x: usize, xStride: usize,
  dp0: usize, dStep: usize, at: usize, outStride: usize): void {
  const bs = block32Bytes(fmt);
  let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0);
  const end = w + <usize>nb * bs;
  for (let p = w, xp = x, dp = dp0; p < end; p += bs, xp += 64, dp += dStep) {
    let w0: v128, w1: v128, w2: v128, w3: v128;
    if (fmt == Q8_0) {
      w0 = v128.load8x8_s(p, 2); w1 = v128.load8x8_s(p, 10); w2 = v128.load8x8_s(p, 18); w3 = v128.load8x8_s(p, 26);
    } else {
      const lo = v128.load8x8_u(p, 2), hi = v128.load8x8_u(p, 10), m = i16x8.splat(15);
      w0 = v128.and(lo, m); w1 = v128.and(hi, m); w2 = i16x8.shr_u(lo, 4); w3 = i16x8.shr_u(hi, 4);
    }
    acc0 = f32x4.add(acc0, blockTokens4(fmt, p, w0, w1, w2, w3, xp, xStride, dp, 0, groups, at));
    if (groups == 2) {
      acc1 = f32x4.add(acc1, blockTokens4(fmt, p, w0, w1, w2, w3, xp + (xStride << 2), xStride, dp, 1, groups, at));
    }
  }
  storeTokens(at, outStride, acc0);
  if (groups == 2) storeTokens(at + (outStride << 2), outStride, acc1);
}

@inline function matmulBlocks32(fmt: i32, w: usize, cols: i32, r0: i32, r1: i32, nTok: i32, x: usize, xd: usize, out: usize, rows: i32): void {
  const nb = cols >> 5;
  const rowBytes = <usize>nb * block32Bytes(fmt);
  const xStride = <usize>cols << 1, dStep = <usize>((nTok + 3) >> 2) * recordBytes(32);
  const outStride = <usize>rows << 2;
  // A single token reads each weight once: tiling would only cut the rows' streams short.
  const tile = nTok == 1 ? r1 - r0 : max(4, tileRows(rowBytes) & ~3);
  for (let rt = r0; rt < r1; rt += tile) {
    const re = min(rt + tile, r1);
    // Eight tokens a pass share each block's decoded weights (a few percent faster than four).
    let t = 0;
    for (; t + 8 <= nTok; t += 8) {
      const xt = x + <usize>t * xStride, dt = xd + (<usize>t >> 2) * recordBytes(32);
      const o = out + <usize>t * outStride;
      for (let r = rt; r < re; r++) {
        dotBlocks32Tokens(fmt, 2, w + <usize>r * rowBytes, nb, xt, xStride, dt, dStep, o + (<usize>r << 2), outStride);
      }
    }
    for (; t + 4 <= nTok; t += 4) {
      const xt = x + <usize>t * xStride, dt = xd + (<usize>t >> 2) * recordBytes(32);
      const o = out + <usize>t * outStride;
      for (let r = rt; r < re; r++) {
        dotBlocks32Tokens(fmt, 1, w + <usize>r * rowBytes, nb, xt, xStride, dt, dStep, o + (<usize>r << 2), outStride);
      }
    }
    for (; t < nTok; t++) {
      const xt = x + <usize>t * xStride;
      const dt = xd + (<usize>t >> 2) * recordBytes(32) + ((<usize>t & 3) << 2);
      const o = out + <usize>t * outStride;
      // Lanes take rows a quarter of the tile apart: four adjacent rows read side by side share
      // pages, which the hardware prefetcher does not follow (several times slower from DRAM),
      // while four distant ones are four plain ascending streams. A lane past the tile's end
      // repeats its last row and is not stored.
      const n = re - rt, q = (n + 3) >> 2;
      const qBytes = <usize>q << 2;
      for (let i = 0; i < q; i++) {
        const r = rt + i, last = n - 1 - i;
        const o1 = <usize>min(q, last), o2 = <usize>min(2 * q, last), o3 = <usize>min(3 * q, last);
        const at = o + (<usize>r << 2);
        const v = dotBlocks32Rows4(fmt, w + <usize>r * rowBytes, o1 * rowBytes, o2 * rowBytes, o3 * rowBytes,
          nb, xt, dt, dStep, at);
        store<f32>(at, f32x4.extract_lane(v, 0));
        if (i + q < n) store<f32>(at + qBytes, f32x4.extract_lane(v, 1));
        if (i + 2 * q < n) store<f32>(at + 2 * qBytes, f32x4.extract_lane(v, 2));
        if (i + 3 * q < n) store<f32>(at + 3 * qBytes, f32x4.extract_lane(v, 3));
      }
    }
  }
}

export function matmulQ8_0(w: usize, cols: i32, r0: i32, r1: i32, nTok: i32, x: usize, xd: usize, out: usize, rows: i32): void {
  matmulBlocks32(Q8_0, w, cols, r0, r1, nTok, x, xd, out, rows);
}

export function matmulQ4_0(w: usize, cols: i32, r0: i32, r1: i32, nTok: i32, x: usize, xd: usize, out: usize, rows: i32): void {
  matmulBlocks32(Q4_0, w, cols, r0, r1, nTok, x, xd, out, rows);
}

// ---------------------------------------------------------------------------------------------
// Q4_K weights x activations quantized per 256
//
// A super-block is Σ_j (d·sc_j·q − dmin·m_j)·x over 8 sub-blocks j of 32. Order per output:
// acc = macc = 0, then for each super-block in turn acc += f32(isum) · (d·dx) and
// macc += f32(msum) · (dmin·dx), where isum = Σ_j sc_j·(Σ q·x)_j and msum = Σ_j m_j·(Σ x)_j are its
// exact integer sums; the result is acc − macc. As for Q8_0, four-token kernels keep one token per
// lane and single tokens use scalars: the float operations are the same.

/** The four bytes of `word` as int32 lanes. */
@inline function bytesToI32x4(word: u32): v128 {
  return i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(i32x4.splat(word)));
}

/** Σ of the four int32 lanes (exact). */
@inline function lanesSum(v: v128): i32 {
  const s = i32x4.add(v, i32x4.shuffle(v, v, 2, 3, 2, 3));
  return i32x4.extract_lane(i32x4.add(s, i32x4.shuffle(s, s, 1, 1, 1, 1)), 0);
}

/**
 * Scales or mins 4-7 from the 12 packed bytes: low 4 bits from `nibbles` (bytes 8-11, or those
 * shifted down by 4 for the mins), top 2 bits from the spare top bits of `low` (bytes 0-3 for
 * scales, 4-7 for mins). Entries 0-3 are simply `low & 0x3f3f3f3f`.
 */
@inline function q4kHigh(low: u32, nibbles: u32): u32 {
  return (nibbles & 0x0f0f0f0f) | (((low >> 6) & 0x03030303) << 4);
}

/** The 8 mins of the super-block at p as int16 lanes. */
@inline function q4kMins(p: usize): v128 {
  const b = load<u32>(p, 8), c = load<u32>(p, 12);
  return i16x8.extend_low_i8x16_u(i32x4.replace_lane(i32x4.splat(b & 0x3f3f3f3f), 1, q4kHigh(b, c >> 4)));
}

/**
 * Integer sum over one 64-weight chunk (32 bytes at q: low nibbles the first sub-block, high
 * nibbles the second) with the activations at x, each sub-block's partial sums multiplied by
 * its scale (lanes 0 and 1 of `scales`).
 */
@inline function q4kChunk(q: usize, x: usize, scales: v128, fence: usize): v128 {
  const b0 = v128.load8x8_u(q), b1 = v128.load8x8_u(q, 8), b2 = v128.load8x8_u(q, 16), b3 = v128.load8x8_u(q, 24);
  const m = i16x8.splat(15);
  const lo = dot32(v128.and(b0, m), v128.and(b1, m), v128.and(b2, m), v128.and(b3, m), x);
  orderAfter(fence, lo);
  const hi = dot32(i16x8.shr_u(b0, 4), i16x8.shr_u(b1, 4), i16x8.shr_u(b2, 4), i16x8.shr_u(b3, 4), x + 64);
  return i32x4.add(i32x4.mul(lo, splatLane(scales, 0)), i32x4.mul(hi, splatLane(scales, 1)));
}

/** One row and one token, whose scale is at dp0 and sums at sp0, each then every `step` bytes. */
@inline function dotQ4Kx1(w: usize, x: usize, dp0: usize, sp0: usize, nb: i32, step: usize, fence: usize): f32 {
  let acc: f32 = 0, macc: f32 = 0;
  const end = w + <usize>nb * 144;
  for (let p = w, xp = x, dp = dp0, sp = sp0; p < end; p += 144, xp += 512, dp += step, sp += step) {
    const a = load<u32>(p, 4), c = load<u32>(p, 12);
    // Lanes 0 and 1 of `scales` belong to the current 64-weight chunk; each chunk moves them on.
    let scales = bytesToI32x4(a & 0x3f3f3f3f), later = bytesToI32x4(q4kHigh(a, c));
    let isum = i32x4.splat(0);
    for (let q = p + 16, xq = xp; q < p + 144; q += 32, xq += 128) {
      isum = i32x4.add(isum, q4kChunk(q, xq, scales, fence));
      scales = i32x4.shuffle(scales, later, 2, 3, 4, 5);
      later = i32x4.shuffle(later, later, 2, 3, 2, 3);
    }
    const dx = load<f32>(dp);
    acc += <f32>lanesSum(isum) * (loadHalf(p) * dx);
    macc += <f32>lanesSum(i32x4.dot_i16x8_s(q4kMins(p), v128.load(sp))) * (loadHalf(p + 2) * dx);
  }
  return acc - macc;
}

/** isum + Σ over one 32-weight sub-block of (scaled int16 weights w0..w3) · (activations at x). */
@inline function accDot32(isum: v128, w0: v128, w1: v128, w2: v128, w3: v128, x: usize): v128 {
  return i32x4.add(isum, dot32(w0, w1, w2, w3, x));
}

/**
 * dotQ4Kx1 for four tokens (one per lane of the result). Each chunk's weights are widened and
 * multiplied by their sub-block scale once (int16: 15·63 fits), then dotted with every token.
 */
@inline function dotQ4Kx4(w: usize, x: usize, xStride: usize, dp0: usize, nb: i32, step: usize, fence: usize): v128 {
  let acc = f32x4.splat(0), macc = f32x4.splat(0);
  const end = w + <usize>nb * 144;
  for (let p = w, xp = x, dp = dp0; p < end; p += 144, xp += 512, dp += step) {
    const a = load<u32>(p, 4), c = load<u32>(p, 12);
    let scales = bytesToI32x4(a & 0x3f3f3f3f), later = bytesToI32x4(q4kHigh(a, c));
    let i0 = i32x4.splat(0), i1 = i32x4.splat(0), i2 = i32x4.splat(0), i3 = i32x4.splat(0);
    for (let q = p + 16, xq = xp; q < p + 144; q += 32, xq += 128) {
      // Scales are < 64, so the low int16 of an int32 lane holds the whole value.
      let s = i8x16.shuffle(scales, scales, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1);
      const b0 = v128.load8x8_u(q), b1 = v128.load8x8_u(q, 8), b2 = v128.load8x8_u(q, 16), b3 = v128.load8x8_u(q, 24);
      const m = i16x8.splat(15);
      let w0 = i16x8.mul(v128.and(b0, m), s), w1 = i16x8.mul(v128.and(b1, m), s);
      let w2 = i16x8.mul(v128.and(b2, m), s), w3 = i16x8.mul(v128.and(b3, m), s);
      i0 = accDot32(i0, w0, w1, w2, w3, xq);
      orderAfter(fence, i0);
      i1 = accDot32(i1, w0, w1, w2, w3, xq + xStride);
      orderAfter(fence, i1);
      i2 = accDot32(i2, w0, w1, w2, w3, xq + 2 * xStride);
      orderAfter(fence, i2);
      i3 = accDot32(i3, w0, w1, w2, w3, xq + 3 * xStride);
      orderAfter(fence, i3);
      s = i8x16.shuffle(scales, scales, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5);
      w0 = i16x8.mul(i16x8.shr_u(b0, 4), s); w1 = i16x8.mul(i16x8.shr_u(b1, 4), s);
      w2 = i16x8.mul(i16x8.shr_u(b2, 4), s); w3 = i16x8.mul(i16x8.shr_u(b3, 4), s);
      i0 = accDot32(i0, w0, w1, w2, w3, xq + 64);
      orderAfter(fence, i0);
      i1 = accDot32(i1, w0, w1, w2, w3, xq + xStride + 64);
      orderAfter(fence, i1);
      i2 = accDot32(i2, w0, w1, w2, w3, xq + 2 * xStride + 64);
      orderAfter(fence, i2);
      i3 = accDot32(i3, w0, w1, w2, w3, xq + 3 * xStride + 64);
      scales = i32x4.shuffle(scales, later, 2, 3, 4, 5);
      later = i32x4.shuffle(later, later, 2, 3, 2, 3);
    }
    const mins = q4kMins(p);
    const msum = sum4x4(i32x4.dot_i16x8_s(mins, v128.load(dp, 16)), i32x4.dot_i16x8_s(mins, v128.load(dp, 32)),
      i32x4.dot_i16x8_s(mins, v128.load(dp, 48)), i32x4.dot_i16x8_s(mins, v128.load(dp, 64)));
    const dx = v128.load(dp);
    acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(sum4x4(i0, i1, i2, i3)), f32x4.mul(splatHalf(p), dx)));
    macc = f32x4.add(macc, f32x4.mul(f32x4.convert_i32x4_s(msum), f32x4.mul(splatHalf(p + 2), dx)));
  }
  return f32x4.sub(acc, macc);
}

export function matmulQ4_K(w: usize, cols: i32, r0: i32, r1: i32, nTok: i32, x: usize, xd: usize, out: usize, rows: i32): void {
  const nb = cols >> 8;
  const rowBytes = <usize>nb * 144;
  const xStride = <usize>cols << 1, step = <usize>((nTok + 3) >> 2) * recordBytes(256);
  const outStride = <usize>rows << 2;
  const tile = tileRows(rowBytes);
  for (let rt = r0; rt < r1; rt += tile) {
    const re = min(rt + tile, r1);
    let t = 0;
    for (; t + 4 <= nTok; t += 4) {
      const xt = x + <usize>t * xStride, rec = xd + (<usize>t >> 2) * recordBytes(256), o = out + <usize>t * outStride;
      for (let r = rt; r < re; r++) {
        const at = o + (<usize>r << 2);
        storeTokens(at, outStride, dotQ4Kx4(w + <usize>r * rowBytes, xt, xStride, rec, nb, step, at));
      }
    }
    for (; t < nTok; t++) {
      const xt = x + <usize>t * xStride, o = out + <usize>t * outStride;
      const rec = xd + (<usize>t >> 2) * recordBytes(256), lane = <usize>t & 3;
      for (let r = rt; r < re; r++) {
        const at = o + (<usize>r << 2);
        store<f32>(at, dotQ4Kx1(w + <usize>r * rowBytes, xt, rec + (lane << 2), rec + 16 + (lane << 4), nb, step, at));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Q6_K weights x activations quantized per 256
//
// Order per output: acc = 0, then for each super-block in turn acc += f32(isum) · (d·dx), where
// isum = Σ_g sc_g · (Σ (q−32)·x)_g over its 16 groups of 16 is exact; lanes as for Q4_K.
//
// A super-block is two halves of 128 weights (64 bytes of ql, 32 of qh, 8 scales), each read as
// two parts of 16 bytes of ql (at 0 and 32) and of qh; part pt yields groups g = 0..3 (elements
// 32g + 16pt + 0..15 of the half) with scale sc[2g + pt].

/**
 * Group g (0..3) of 16 weights in one half-block part, as int8 (value − 32): the low 4 bits come
 * from low0 (g even) or low1 (g odd), low nibble for g < 2 and high nibble otherwise; the top two
 * bits are bits 2g..2g+1 of `high`. g is always a constant, so the branches fold away.
 */
@inline function q6Group(low0: v128, low1: v128, high: v128, g: i32): v128 {
  const low = (g & 1) == 0 ? low0 : low1;
  const l = g < 2 ? low : i16x8.shr_u(low, 4);
  // Bring bits 2g..2g+1 of each byte to bits 4-5. Shifting i16 lanes lets bits cross between the
  // two bytes of a lane, which the 0x30 mask below then removes.
  let h = high;
  if (g == 0) h = i16x8.shl(high, 4);
  else if (g == 1) h = i16x8.shl(high, 2);
  else if (g == 3) h = i16x8.shr_u(high, 2);
  const q = v128.or(v128.and(l, i8x16.splat(15)), v128.and(h, i8x16.splat(0x30)));
  return i8x16.sub(q, i8x16.splat(32));
}

/** Integer dot product (int32x4 of partial sums) of the 16 int8 weights q with 16 int16 activations at x. */
@inline function q6Dot16(q: v128, x: usize): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(q), v128.load(x)),
    i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(q), v128.load(x, 16)));
}

/**
 * One part (pt constant) of a half: bytes at ql + 16pt, ql + 32 + 16pt and qh + 16pt, scales
 * `scales` (int32 lanes: sc[pt], sc[pt+2], sc[pt+4], sc[pt+6]) and the half's activations at x.
 * Returns the part's exact contribution to isum, lane g holding group g's.
 */
@inline function q6Part(ql: usize, qh: usize, x: usize, scales: v128, pt: i32, fence: usize): v128 {
  let low0: v128, low1: v128, high: v128, xp: usize;
  if (pt == 0) {
    low0 = v128.load(ql); low1 = v128.load(ql, 32); high = v128.load(qh); xp = x;
  } else {
    low0 = v128.load(ql, 16); low1 = v128.load(ql, 48); high = v128.load(qh, 16); xp = x + 32;
  }
  const d0 = q6Dot16(q6Group(low0, low1, high, 0), xp);
  orderAfter(fence, d0);
  const d1 = q6Dot16(q6Group(low0, low1, high, 1), xp + 64);
  orderAfter(fence, d1);
  const d2 = q6Dot16(q6Group(low0, low1, high, 2), xp + 128);
  orderAfter(fence, d2);
  const d3 = q6Dot16(q6Group(low0, low1, high, 3), xp + 192);
  return i32x4.mul(sum4x4(d0, d1, d2, d3), scales);
}

/** One row and one token, whose scale is at dp0 and then every `step` bytes. */
@inline function dotQ6Kx1(w: usize, x: usize, dp0: usize, nb: i32, step: usize, fence: usize): f32 {
  let acc: f32 = 0;
  const end = w + <usize>nb * 210;
  for (let p = w, xp = x, dp = dp0; p < end; p += 210, xp += 512, dp += step) {
    let isum = i32x4.splat(0);
    for (let ql = p, qh = p + 128, sc = p + 192, xh = xp; ql < p + 128; ql += 64, qh += 32, sc += 8, xh += 256) {
      // The half's eight scales as int16; int32 lane k holds sc[2k] low and sc[2k+1] high.
      const s16 = v128.load8x8_s(sc);
      isum = i32x4.add(isum, q6Part(ql, qh, xh, i32x4.shr_s(i32x4.shl(s16, 16), 16), 0, fence));
      orderAfter(fence, isum);
      isum = i32x4.add(isum, q6Part(ql, qh, xh, i32x4.shr_s(s16, 16), 1, fence));
    }
    acc += <f32>lanesSum(isum) * (loadHalf(p + 208) * load<f32>(dp));
  }
  return acc;
}

/** dot16 of the scaled int16 weights lo|hi with the 16 activations at x, added to isum. */
@inline function q6Acc4(isum: v128, lo: v128, hi: v128, x: usize): v128 {
  return i32x4.add(isum, i32x4.add(i32x4.dot_i16x8_s(lo, v128.load(x)), i32x4.dot_i16x8_s(hi, v128.load(x, 16))));
}

/**
 * dotQ6Kx1 for four tokens (one per lane of the result). Each group's weights are widened and
 * multiplied by their scale once (int16: 32·128 fits), then dotted with every token.
 */
@inline function dotQ6Kx4(w: usize, x: usize, xStride: usize, dp0: usize, nb: i32, step: usize, fence: usize): v128 {
  let acc = f32x4.splat(0);
  const end = w + <usize>nb * 210;
  for (let p = w, xp = x, dp = dp0; p < end; p += 210, xp += 512, dp += step) {
    let i0 = i32x4.splat(0), i1 = i32x4.splat(0), i2 = i32x4.splat(0), i3 = i32x4.splat(0);
    for (let i: usize = 0; i < 4; i++) {
      const half = i >> 1, part = i & 1;
      const ql = p + (half << 6) + (part << 4), qh = p + 128 + (half << 5) + (part << 4);
      const sc = p + 192 + (half << 3) + part;
      const x0 = xp + (half << 8) + (part << 5), x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
      const low0 = v128.load(ql), low1 = v128.load(ql, 32), high = v128.load(qh);
      let q = q6Group(low0, low1, high, 0);
      let s = i16x8.splat(<i16>load<i8>(sc, 0));
      let lo = i16x8.mul(i16x8.extend_low_i8x16_s(q), s), hi = i16x8.mul(i16x8.extend_high_i8x16_s(q), s);
      i0 = q6Acc4(i0, lo, hi, x0);
      orderAfter(fence, i0);
      i1 = q6Acc4(i1, lo, hi, x1);
      orderAfter(fence, i1);
      i2 = q6Acc4(i2, lo, hi, x2);
      orderAfter(fence, i2);
      i3 = q6Acc4(i3, lo, hi, x3);
      orderAfter(fence, i3);
      q = q6Group(low0, low1, high, 1);
      s = i16x8.splat(<i16>load<i8>(sc, 2));
      lo = i16x8.mul(i16x8.extend_low_i8x16_s(q), s); hi = i16x8.mul(i16x8.extend_high_i8x16_s(q), s);
      i0 = q6Acc4(i0, lo, hi, x0 + 64);
      orderAfter(fence, i0);
      i1 = q6Acc4(i1, lo, hi, x1 + 64);
      orderAfter(fence, i1);
      i2 = q6Acc4(i2, lo, hi, x2 + 64);
      orderAfter(fence, i2);
      i3 = q6Acc4(i3, lo, hi, x3 + 64);
      orderAfter(fence, i3);
      q = q6Group(low0, low1, high, 2);
      s = i16x8.splat(<i16>load<i8>(sc, 4));
      lo = i16x8.mul(i16x8.extend_low_i8x16_s(q), s); hi = i16x8.mul(i16x8.extend_high_i8x16_s(q), s);
      i0 = q6Acc4(i0, lo, hi, x0 + 128);
      orderAfter(fence, i0);
      i1 = q6Acc4(i1, lo, hi, x1 + 128);
      orderAfter(fence, i1);
      i2 = q6Acc4(i2, lo, hi, x2 + 128);
      orderAfter(fence, i2);
      i3 = q6Acc4(i3, lo, hi, x3 + 128);
      orderAfter(fence, i3);
      q = q6Group(low0, low1, high, 3);
      s = i16x8.splat(<i16>load<i8>(sc, 6));
      lo = i16x8.mul(i16x8.extend_low_i8x16_s(q), s); hi = i16x8.mul(i16x8.extend_high_i8x16_s(q), s);
      i0 = q6Acc4(i0, lo, hi, x0 + 192);
      orderAfter(fence, i0);
      i1 = q6Acc4(i1, lo, hi, x1 + 192);
      orderAfter(fence, i1);
      i2 = q6Acc4(i2, lo, hi, x2 + 192);
      orderAfter(fence, i2);
      i3 = q6Acc4(i3, lo, hi, x3 + 192);
    }
    acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(sum4x4(i0, i1, i2, i3)), f32x4.mul(splatHalf(p + 208), v128.load(dp))));
  }
  return acc;
}

export function matmulQ6_K(w: usize, cols: i32, r0: i32, r1: i32, nTok: i32, x: usize, xd: usize, out: usize, rows: i32): void {
  const nb = cols >> 8;
  const rowBytes = <usize>nb * 210;
  const xStride = <usize>cols << 1, step = <usize>((nTok + 3) >> 2) * recordBytes(256), outStride = <usize>rows << 2;
  const tile = tileRows(rowBytes);
  for (let rt = r0; rt < r1; rt += tile) {
    const re = min(rt + tile, r1);
    let t = 0;
    for (; t + 4 <= nTok; t += 4) {
      const xt = x + <usize>t * xStride, rec = xd + (<usize>t >> 2) * recordBytes(256), o = out + <usize>t * outStride;
      for (let r = rt; r < re; r++) {
        const at = o + (<usize>r << 2);
        storeTokens(at, outStride, dotQ6Kx4(w + <usize>r * rowBytes, xt, xStride, rec, nb, step, at));
      }
    }
    for (; t < nTok; t++) {
      const xt = x + <usize>t * xStride, o = out + <usize>t * outStride;
      const dp = xd + (<usize>t >> 2) * recordBytes(256) + ((<usize>t & 3) << 2);
      for (let r = rt; r < re; r++) {
        const at = o + (<usize>r << 2);
        store<f32>(at, dotQ6Kx1(w + <usize>r * rowBytes, xt, dp, nb, step, at));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Softmax sums over f32 logits, for the sampler: the maximum and where it first is (greedy
// choice), Σ e^(x − max) (the reported log-probabilities), the weights e^((x − max)·s) of a
// temperature draw, and counts, indices and weight sums of the values above a threshold (top-k
// and top-p without a sort). Plain IEEE operations in a fixed order (no libm, no relaxed SIMD),
// so every machine gets the same bits. n must be a multiple of 16: callers pad with a value that
// counts as nothing (−∞ for sums, NaN for the maximum and thresholds).
//
// e^q for q ≤ 0 in f32: k = round(q / ln 2) (by adding 1.5·2^23, which leaves k in the low
// mantissa bits), r = q − k·ln 2 in two parts (Cody–Waite: k·LN2_HI is exact and the subtraction
// too, by Sterbenz), the degree-7 Taylor polynomial of e^r on |r| ≤ 0.35 (truncation 5e-9), then
// times 2^k made in the exponent bits. About 1e-7 relative error, all of it f32 rounding. Terms
// below e^−86 (4e-38, which no sum notices) are 0, so 2^k is never subnormal.

const EXP_FLOOR: f32 = -86;
const INV_LN2_F: f32 = 1.44269504;
const LN2_HI_F: f32 = 0.693359375;
const LN2_LO_F: f32 = -2.12194440e-4;
/** 1.5·2^23: adding it rounds an f32 of magnitude below 2^22 to an integer held in the low bits. */
const ROUNDER: f32 = 12582912;

/** e^(q + err) per lane, for q ≤ 0 and |err| far below 1 (a rounding error of q); NaN stays NaN. */
@inline function expLanes(q: v128, err: v128): v128 {
  const below = f32x4.lt(q, f32x4.splat(EXP_FLOOR));
  // pmax keeps q when q is NaN, and so does every step after it
  const qc = f32x4.pmax(q, f32x4.splat(EXP_FLOOR));
  const t = f32x4.add(f32x4.mul(qc, f32x4.splat(INV_LN2_F)), f32x4.splat(ROUNDER));
  const k = f32x4.sub(t, f32x4.splat(ROUNDER));
  // err is dropped below the floor, where it may be NaN (−∞ − −∞)
  const r = f32x4.add(f32x4.sub(f32x4.sub(qc, f32x4.mul(k, f32x4.splat(LN2_HI_F))), f32x4.mul(k, f32x4.splat(LN2_LO_F))),
    v128.andnot(err, below));
  let p = f32x4.splat(<f32>(1.0 / 5040));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>(1.0 / 720)));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>(1.0 / 120)));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>(1.0 / 24)));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>(1.0 / 6)));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(0.5));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1));
  // the low bits of t hold k + 0x400000 (from ROUNDER): rebias them into an exponent field
  const scale = i32x4.shl(i32x4.add(t, i32x4.splat(127 - 0x4b400000)), 23);
  return v128.andnot(f32x4.mul(p, scale), below);
}

/**
 * The rounding error of d = x + negM (Knuth's TwoSum): d plus it is x − m exactly, so e^(x − m) is
 * as accurate for x far below m as near it.
 */
@inline function sumError(x: v128, negM: v128, d: v128): v128 {
  const mPart = f32x4.sub(d, x);
  return f32x4.add(f32x4.sub(x, f32x4.sub(d, mPart)), f32x4.sub(negM, mPart));
}

/** e^(x − m) per lane. */
@inline function expShifted(x: v128, negM: v128): v128 {
  const d = f32x4.add(x, negM);
  return expLanes(d, sumError(x, negM, d));
}

/** w where w ≥ floor, else 0 (NaN too). */
@inline function aboveFloor(w: v128, floor: v128): v128 {
  return v128.and(w, f32x4.ge(w, floor));
}

/** e^((x − m)·s) per lane. */
@inline function expShiftedScaled(x: v128, negM: v128, s: v128): v128 {
  const d = f32x4.add(x, negM);
  return expLanes(f32x4.mul(d, s), f32x4.mul(sumError(x, negM, d), s));
}

/** The largest of x[0, n); NaNs are skipped, as comparisons skip them. */
export function maxF32(x: usize, n: i32): f32 {
  let m0 = f32x4.splat(-Infinity), m1 = m0, m2 = m0, m3 = m0;
  const end = x + (<usize>n << 2);
  // pmax(m, v) = m < v ? v : m: one instruction, and a NaN v never wins
  for (let p = x; p < end; p += 64) {
    m0 = f32x4.pmax(m0, v128.load(p));
    m1 = f32x4.pmax(m1, v128.load(p, 16));
    m2 = f32x4.pmax(m2, v128.load(p, 32));
    m3 = f32x4.pmax(m3, v128.load(p, 48));
  }
  const m = f32x4.pmax(f32x4.pmax(m0, m1), f32x4.pmax(m2, m3));
  return max(max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
}

/** The lowest i < n with x[i] == v, or −1 (none, or v is NaN). */
export function firstIndexF32(x: usize, n: i32, v: f32): i32 {
  const target = f32x4.splat(v);
  const end = x + (<usize>n << 2);
  for (let p = x; p < end; p += 64) {
    const hit = v128.or(
      v128.or(f32x4.eq(v128.load(p), target), f32x4.eq(v128.load(p, 16), target)),
      v128.or(f32x4.eq(v128.load(p, 32), target), f32x4.eq(v128.load(p, 48), target)));
    if (!v128.any_true(hit)) continue;
    for (let q = p; ; q += 4) if (load<f32>(q) == v) return <i32>((q - x) >> 2);
  }
  return -1;
}

/**
 * acc (f64x2) plus the 16 terms a, b, c, d (f32x4 each), summed in f32 as (a + b) + (c + d) and
 * then widened: with f32 terms of about 1e-7 relative error, the total's error stays below 3e-7.
 */
@inline function addTerms(acc: v128, a: v128, b: v128, c: v128, d: v128): v128 {
  const e = f32x4.add(f32x4.add(a, b), f32x4.add(c, d));
  return f64x2.add(f64x2.add(acc, f64x2.promote_low_f32x4(e)), f64x2.promote_low_f32x4(i32x4.shuffle(e, e, 2, 3, 2, 3)));
}

/** Σ e^(x_i − m) over x[0, n), for m ≥ every x_i. */
export function sumExpF32(x: usize, n: i32, m: f32): f64 {
  const negM = f32x4.splat(-m);
  let acc = f64x2.splat(0);
  const end = x + (<usize>n << 2);
  for (let p = x; p < end; p += 64) {
    acc = addTerms(acc, expShifted(v128.load(p), negM), expShifted(v128.load(p, 16), negM),
      expShifted(v128.load(p, 32), negM), expShifted(v128.load(p, 48), negM));
  }
  return f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
}

/**
 * out[i] = e^((x_i − m)·s) (f32) for i < n, or 0 where that is below `floor` (or NaN), for m ≥
 * every x_i and s > 0; returns the sum of out.
 */
export function expWeightsF32(x: usize, n: i32, m: f32, s: f32, floor: f32, out: usize): f64 {
  const negM = f32x4.splat(-m), scale = f32x4.splat(s), low = f32x4.splat(floor);
  let acc = f64x2.splat(0);
  const end = x + (<usize>n << 2);
  for (let p = x, o = out; p < end; p += 64, o += 64) {
    const w0 = aboveFloor(expShiftedScaled(v128.load(p), negM, scale), low);
    const w1 = aboveFloor(expShiftedScaled(v128.load(p, 16), negM, scale), low);
    const w2 = aboveFloor(expShiftedScaled(v128.load(p, 32), negM, scale), low);
    const w3 = aboveFloor(expShiftedScaled(v128.load(p, 48), negM, scale), low);
    v128.store(o, w0);
    v128.store(o, w1, 16);
    v128.store(o, w2, 32);
    v128.store(o, w3, 48);
    acc = addTerms(acc, w0, w1, w2, w3);
  }
  return f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
}

/** Σ w_i over i < n where x_i ≥ t, summed as in expWeightsF32 (so over t = −∞ it is that total, bit for bit). */
export function sumAtLeastF32(x: usize, w: usize, n: i32, t: f32): f64 {
  const threshold = f32x4.splat(t);
  let acc = f64x2.splat(0);
  const end = x + (<usize>n << 2);
  for (let p = x, q = w; p < end; p += 64, q += 64) {
    acc = addTerms(acc,
      v128.and(v128.load(q), f32x4.ge(v128.load(p), threshold)),
      v128.and(v128.load(q, 16), f32x4.ge(v128.load(p, 16), threshold)),
      v128.and(v128.load(q, 32), f32x4.ge(v128.load(p, 32), threshold)),
      v128.and(v128.load(q, 48), f32x4.ge(v128.load(p, 48), threshold)));
  }
  return f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
}

/** w_i = 0 for i < n where x_i < t, or x_i is NaN. */
export function zeroBelowF32(x: usize, w: usize, n: i32, t: f32): void {
  const threshold = f32x4.splat(t);
  const end = x + (<usize>n << 2);
  for (let p = x, q = w; p < end; p += 16, q += 16) v128.store(q, v128.and(v128.load(q), f32x4.ge(v128.load(p), threshold)));
}

/** How many of x[0, n) are at least t. */
export function countAtLeastF32(x: usize, n: i32, t: f32): i32 {
  const threshold = f32x4.splat(t);
  let c0 = i32x4.splat(0), c1 = c0;
  const end = x + (<usize>n << 2);
  // a true comparison is −1 in its lane
  for (let p = x; p < end; p += 64) {
    c0 = i32x4.add(c0, i32x4.add(f32x4.ge(v128.load(p), threshold), f32x4.ge(v128.load(p, 16), threshold)));
    c1 = i32x4.add(c1, i32x4.add(f32x4.ge(v128.load(p, 32), threshold), f32x4.ge(v128.load(p, 48), threshold)));
  }
  const count = i32x4.add(c0, c1);
  return -(i32x4.extract_lane(count, 0) + i32x4.extract_lane(count, 1) + i32x4.extract_lane(count, 2) + i32x4.extract_lane(count, 3));
}

/** Writes each i < n with x_i ≥ t to out (i32, ascending); returns how many. */
export function indicesAtLeastF32(x: usize, n: i32, t: f32, out: usize): i32 {
  const threshold = f32x4.splat(t);
  let o = out;
  for (let i = 0; i < n; i += 4) {
    let lanes = i32x4.bitmask(f32x4.ge(v128.load(x + (<usize>i << 2)), threshold));
    for (; lanes != 0; lanes &= lanes - 1) {
      store<i32>(o, i + ctz(lanes));
      o += 4;
    }
  }
  return <i32>((o - out) >> 2);
}

// ---------------------------------------------------------------------------------------------
// SwiGLU and attention
//
// Both bit for bit as their JavaScript references (src/tensor/swiglu-reference.ts and
// src/tensor/attention-reference.ts) compute them, since the engine's output bytes are what audits
// recompute. Their exponentials are expLanes's (with no error term): plain f32 operations, which
// the references repeat with Math.fround. SIMD lanes hold independent results, never parts of one.

/**
 * swiglu of swiglu-reference.ts over f32 gate[0, n) and up[0, n), into gate, in f32: with
 * e = e^−|x|, silu(x) = x / (1 + e) for x ≥ 0 and x·e / (1 + e) below (so the exponential never
 * overflows), times up; four elements a step. A NaN is stored as the one quiet NaN 0x7fc00000:
 * WebAssembly leaves the sign and payload of a computed NaN to the hardware, and a result's bytes
 * must not depend on the machine.
 */
const QUIET_NAN_F32: u32 = 0x7fc00000;

@inline function swigluLanes(x: v128, up: v128): v128 {
  const e = expLanes(f32x4.neg(f32x4.abs(x)), f32x4.splat(0));
  const numerator = v128.bitselect(x, f32x4.mul(x, e), f32x4.ge(x, f32x4.splat(0)));
  const y = f32x4.mul(f32x4.div(numerator, f32x4.add(f32x4.splat(1), e)), up);
  return v128.bitselect(i32x4.splat(QUIET_NAN_F32), y, f32x4.ne(y, y));
}

export function swigluF32(gate: usize, up: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const g = gate + (<usize>i << 2);
    v128.store(g, swigluLanes(v128.load(g), v128.load(up + (<usize>i << 2))));
  }
  for (; i < n; i++) {
    // the tail one lane at a time, through the same lane operations
    const g = gate + (<usize>i << 2);
    store<f32>(g, f32x4.extract_lane(swigluLanes(f32x4.splat(load<f32>(g)), f32x4.splat(load<f32>(up + (<usize>i << 2)))), 0));
  }
}

/**
 * The attention weights of one query row before normalising, in place over its scores x[0, n):
 * e^(x_p − max), each an expLanes result; returns their sum in f64, taken as four running sums (of
 * the positions p ≡ 0, 1, 2 and 3 mod 4, each in position order) added as (s0 + s1) + (s2 + s3).
 * The entries up to the next multiple of 4 are overwritten (the scratch has room for them).
 */
function attentionWeights(x: usize, n: i32): f64 {
  const end = x + (<usize>((n + 3) & ~3) << 2);
  // pad the last quad with −∞, whose weight is 0: whole quads, and sums unchanged
  for (let p = x + (<usize>n << 2); p < end; p += 4) store<f32>(p, -Infinity);
  let m = f32x4.splat(-Infinity);
  for (let p = x; p < end; p += 16) m = f32x4.pmax(m, v128.load(p));
  m = f32x4.pmax(m, i32x4.shuffle(m, m, 2, 3, 0, 1));
  const negMax = f32x4.neg(f32x4.pmax(m, i32x4.shuffle(m, m, 1, 0, 3, 2)));
  const zero = f32x4.splat(0);
  let low = f64x2.splat(0);
  let high = f64x2.splat(0);
  for (let p = x; p < end; p += 16) {
    const e = expLanes(f32x4.add(v128.load(p), negMax), zero);
    v128.store(p, e);
    low = f64x2.add(low, f64x2.promote_low_f32x4(e));
    high = f64x2.add(high, f64x2.promote_low_f32x4(i32x4.shuffle(e, e, 2, 3, 2, 3)));
  }
  return (f64x2.extract_lane(low, 0) + f64x2.extract_lane(low, 1)) + (f64x2.extract_lane(high, 0) + f64x2.extract_lane(high, 1));
}

/** f32(a_i · scale) per lane of the f32x4 a, the product in f64 (scale: an f64 in both lanes). */
@inline function scaleLanes(a: v128, scale: v128): v128 {
  const lo = f32x4.demote_f64x2_zero(f64x2.mul(f64x2.promote_low_f32x4(a), scale));
  const hi = f32x4.demote_f64x2_zero(f64x2.mul(f64x2.promote_low_f32x4(i32x4.shuffle(a, a, 2, 3, 2, 3)), scale));
  return i32x4.shuffle(lo, hi, 0, 1, 4, 5);
}

/**
 * scores[p] = f32(Σ_d q[d]·k_p[d]) · scale for p < visible, every product and sum rounded to f32,
 * summed in dimension order; keys: one key/value head's dimension 0 of positions 0-3 (see
 * src/tensor/key-quads.ts), its later quads quadBytes apart: each f32x4 lane is one position's
 * sum, four quads at a time. A last quad's lanes past `visible` land in the spare entries.
 */
function attentionScores(
  q: usize, keys: usize, quadBytes: usize, headDim: i32, visible: i32, scale: f32, scores: usize,
): void {
  const quads = (visible + 3) >> 2;
  const scale4 = f32x4.splat(scale);
  const end = q + (<usize>headDim << 2);
  let quad = 0;
  for (; quad + 4 <= quads; quad += 4) {
    let k = keys + <usize>quad * quadBytes;
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    for (let qp = q; qp < end; qp += 4) {
      const x = v128.load32_splat(qp);
      a0 = f32x4.add(a0, f32x4.mul(x, v128.load(k)));
      a1 = f32x4.add(a1, f32x4.mul(x, v128.load(k + quadBytes)));
      a2 = f32x4.add(a2, f32x4.mul(x, v128.load(k + 2 * quadBytes)));
      a3 = f32x4.add(a3, f32x4.mul(x, v128.load(k + 3 * quadBytes)));
      k += 16;
    }
    const out = scores + (<usize>quad << 4);
    v128.store(out, f32x4.mul(a0, scale4));
    v128.store(out, f32x4.mul(a1, scale4), 16);
    v128.store(out, f32x4.mul(a2, scale4), 32);
    v128.store(out, f32x4.mul(a3, scale4), 48);
  }
  for (; quad < quads; quad++) {
    let k = keys + <usize>quad * quadBytes;
    let a = f32x4.splat(0);
    for (let qp = q; qp < end; qp += 4) {
      a = f32x4.add(a, f32x4.mul(v128.load32_splat(qp), v128.load(k)));
      k += 16;
    }
    v128.store(scores + (<usize>quad << 4), f32x4.mul(a, scale4));
  }
}

/**
 * out[d] = f32(f32(Σ_p w[p]·v_p[d]) · scale) for d < headDim, every product and sum rounded to
 * f32, summed in position order, the last product in f64 (scale normalises the weights); values
 * f32 as the cache holds them (one head's row of position p at values + p · stride): sixteen
 * dimensions at a time in four f32x4 accumulators, each lane one dimension's sum.
 */
function attentionValues(
  w: usize, values: usize, stride: usize, headDim: i32, visible: i32, scale: f64, out: usize, d: i32 = 0,
): void {
  const end = w + (<usize>visible << 2);
  const scale2 = f64x2.splat(scale);
  for (; d + 16 <= headDim; d += 16) {
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    let v = values + (<usize>d << 2);
    for (let wp = w; wp < end; wp += 4) {
      const s = v128.load32_splat(wp);
      a0 = f32x4.add(a0, f32x4.mul(s, v128.load(v)));
      a1 = f32x4.add(a1, f32x4.mul(s, v128.load(v, 16)));
      a2 = f32x4.add(a2, f32x4.mul(s, v128.load(v, 32)));
      a3 = f32x4.add(a3, f32x4.mul(s, v128.load(v, 48)));
      v += stride;
    }
    const o = out + (<usize>d << 2);
    v128.store(o, scaleLanes(a0, scale2));
    v128.store(o, scaleLanes(a1, scale2), 16);
    v128.store(o, scaleLanes(a2, scale2), 32);
    v128.store(o, scaleLanes(a3, scale2), 48);
  }
  for (; d + 4 <= headDim; d += 4) {
    let a = f32x4.splat(0);
    let v = values + (<usize>d << 2);
    for (let wp = w; wp < end; wp += 4) {
      a = f32x4.add(a, f32x4.mul(v128.load32_splat(wp), v128.load(v)));
      v += stride;
    }
    v128.store(out + (<usize>d << 2), scaleLanes(a, scale2));
  }
  for (; d < headDim; d++) {
    let sum: f32 = 0;
    let v = values + (<usize>d << 2);
    for (let wp = w; wp < end; wp += 4) {
      sum += load<f32>(wp) * load<f32>(v);
      v += stride;
    }
    store<f32>(out + (<usize>d << 2), <f32>(<f64>sum * scale));
  }
}

/**
 * attentionScores for two query rows at once (q0 and q1, each its own lanes and sums), sharing each
 * key load: over the quads that hold `visible` positions, the second row's; the first row, which
 * sees one position fewer, gets a score too many, which attentionWeights overwrites.
 */
function attentionScores2(
  q0: usize, q1: usize, keys: usize, quadBytes: usize, headDim: i32, visible: i32, scale: f32,
  scores0: usize, scores1: usize,
): void {
  const quads = (visible + 3) >> 2;
  const scale4 = f32x4.splat(scale);
  const end = q0 + (<usize>headDim << 2);
  let quad = 0;
  for (; quad + 4 <= quads; quad += 4) {
    let k = keys + <usize>quad * quadBytes;
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    let b0 = f32x4.splat(0);
    let b1 = f32x4.splat(0);
    let b2 = f32x4.splat(0);
    let b3 = f32x4.splat(0);
    for (let p0 = q0, p1 = q1; p0 < end; p0 += 4, p1 += 4) {
      const x0 = v128.load32_splat(p0);
      const x1 = v128.load32_splat(p1);
      const k0 = v128.load(k);
      const k1 = v128.load(k + quadBytes);
      a0 = f32x4.add(a0, f32x4.mul(x0, k0));
      b0 = f32x4.add(b0, f32x4.mul(x1, k0));
      a1 = f32x4.add(a1, f32x4.mul(x0, k1));
      b1 = f32x4.add(b1, f32x4.mul(x1, k1));
      const k2 = v128.load(k + 2 * quadBytes);
      const k3 = v128.load(k + 3 * quadBytes);
      a2 = f32x4.add(a2, f32x4.mul(x0, k2));
      b2 = f32x4.add(b2, f32x4.mul(x1, k2));
      a3 = f32x4.add(a3, f32x4.mul(x0, k3));
      b3 = f32x4.add(b3, f32x4.mul(x1, k3));
      k += 16;
    }
    const at = <usize>quad << 4;
    v128.store(scores0 + at, f32x4.mul(a0, scale4));
    v128.store(scores0 + at, f32x4.mul(a1, scale4), 16);
    v128.store(scores0 + at, f32x4.mul(a2, scale4), 32);
    v128.store(scores0 + at, f32x4.mul(a3, scale4), 48);
    v128.store(scores1 + at, f32x4.mul(b0, scale4));
    v128.store(scores1 + at, f32x4.mul(b1, scale4), 16);
    v128.store(scores1 + at, f32x4.mul(b2, scale4), 32);
    v128.store(scores1 + at, f32x4.mul(b3, scale4), 48);
  }
  for (; quad < quads; quad++) {
    let k = keys + <usize>quad * quadBytes;
    let a = f32x4.splat(0);
    let b = f32x4.splat(0);
    for (let p0 = q0, p1 = q1; p0 < end; p0 += 4, p1 += 4) {
      const kv = v128.load(k);
      a = f32x4.add(a, f32x4.mul(v128.load32_splat(p0), kv));
      b = f32x4.add(b, f32x4.mul(v128.load32_splat(p1), kv));
      k += 16;
    }
    const at = <usize>quad << 4;
    v128.store(scores0 + at, f32x4.mul(a, scale4));
    v128.store(scores1 + at, f32x4.mul(b, scale4));
  }
}

/**
 * attentionValues for two query rows at once, sharing each value load: w0 over `visible`
 * positions, w1 over one more when `extra` (the row after, in a prefill), else over as many (a
 * second query head of the same key/value head, in a decode step).
 */
function attentionValues2(
  w0: usize, w1: usize, values: usize, stride: usize, headDim: i32, visible: i32, scale0: f64, scale1: f64,
  out0: usize, out1: usize, extra: bool,
): void {
  const end = w0 + (<usize>visible << 2);
  const scale0x2 = f64x2.splat(scale0);
  const scale1x2 = f64x2.splat(scale1);
  let d = 0;
  for (; d + 8 <= headDim; d += 8) {
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let b0 = f32x4.splat(0);
    let b1 = f32x4.splat(0);
    let v = values + (<usize>d << 2);
    let p1 = w1;
    for (let p0 = w0; p0 < end; p0 += 4, p1 += 4) {
      const s0 = v128.load32_splat(p0);
      const s1 = v128.load32_splat(p1);
      const v0 = v128.load(v);
      const v1 = v128.load(v, 16);
      a0 = f32x4.add(a0, f32x4.mul(s0, v0));
      b0 = f32x4.add(b0, f32x4.mul(s1, v0));
      a1 = f32x4.add(a1, f32x4.mul(s0, v1));
      b1 = f32x4.add(b1, f32x4.mul(s1, v1));
      v += stride;
    }
    if (extra) {
      // the second row's last position, which the first row does not see
      const s1 = v128.load32_splat(p1);
      b0 = f32x4.add(b0, f32x4.mul(s1, v128.load(v)));
      b1 = f32x4.add(b1, f32x4.mul(s1, v128.load(v, 16)));
    }
    const o0 = out0 + (<usize>d << 2);
    v128.store(o0, scaleLanes(a0, scale0x2));
    v128.store(o0, scaleLanes(a1, scale0x2), 16);
    const o1 = out1 + (<usize>d << 2);
    v128.store(o1, scaleLanes(b0, scale1x2));
    v128.store(o1, scaleLanes(b1, scale1x2), 16);
  }
  if (d < headDim) {
    attentionValues(w0, values, stride, headDim, visible, scale0, out0, d);
    attentionValues(w1, values, stride, headDim, extra ? visible + 1 : visible, scale1, out1, d);
  }
}

/**
 * Attention of query heads h .. h + hCount - 1 (hCount 1 or 2, both of one key/value head) for the
 * query rows [t0, t1), row t at position startPos + t seeing positions [0, startPos + t]. q and
 * out: [n × heads × headDim] f32; keys: the startPos + n cached positions in quads of positions
 * (src/tensor/key-quads.ts); values: as cached, [positions × kvHeads × headDim] f32; heads / kvHeads
 * consecutive query heads to a key/value head. scratch: attentionScratchBytes of wasm-kernels.ts,
 * this thread's own. A row's result depends on nothing but its inputs (each score and each output
 * is one sum in a fixed order, whichever rows share its loads), so any split of heads and rows over
 * threads gives the same bytes.
 */
export function attentionHead(
  q: usize, keys: usize, values: usize, out: usize, scratch: usize,
  heads: i32, kvHeads: i32, headDim: i32, startPos: i32, n: i32, h: i32, hCount: i32, t0: i32, t1: i32,
): void {
  const positions = startPos + n;
  const rowBytes = <usize>headDim << 2;
  const qStride = <usize>heads * rowBytes;
  const kvHead = <usize>(h / (heads / kvHeads));
  // quads of one key/value head lie a quad of all heads apart
  const headKeys = keys + kvHead * (<usize>headDim << 4);
  const quadBytes = <usize>kvHeads * (<usize>headDim << 4);
  const headValues = values + kvHead * rowBytes;
  const valueStride = <usize>kvHeads * rowBytes;
  const scale = <f32>(1.0 / Math.sqrt(<f64>headDim));
  // scratch: two score rows, each with room for a whole last quad
  const scores0 = scratch;
  const scores1 = scores0 + (<usize>(positions + 4) << 2);
  if (hCount == 2) {
    // two query heads of one key/value head, row by row: they share each key and value load
    for (let t = t0; t < t1; t++) {
      const visible = startPos + t + 1;
      const row0 = <usize>t * qStride + <usize>h * rowBytes;
      const row1 = row0 + rowBytes;
      attentionScores2(q + row0, q + row1, headKeys, quadBytes, headDim, visible, scale, scores0, scores1);
      const sum0 = attentionWeights(scores0, visible);
      const sum1 = attentionWeights(scores1, visible);
      attentionValues2(scores0, scores1, headValues, valueStride, headDim, visible, 1.0 / sum0, 1.0 / sum1,
        out + row0, out + row1, false);
    }
    return;
  }
  let t = t0;
  // prefill: two rows at a time share each key and value load
  for (; t + 2 <= t1; t += 2) {
    const visible = startPos + t + 1;
    const row0 = <usize>t * qStride + <usize>h * rowBytes;
    const row1 = row0 + qStride;
    attentionScores2(q + row0, q + row1, headKeys, quadBytes, headDim, visible + 1, scale, scores0, scores1);
    const sum0 = attentionWeights(scores0, visible);
    const sum1 = attentionWeights(scores1, visible + 1);
    attentionValues2(scores0, scores1, headValues, valueStride, headDim, visible, 1.0 / sum0, 1.0 / sum1,
      out + row0, out + row1, true);
  }
  if (t < t1) {
    const visible = startPos + t + 1;
    const row = <usize>t * qStride + <usize>h * rowBytes;
    attentionScores(q + row, headKeys, quadBytes, headDim, visible, scale, scores0);
    const sum = attentionWeights(scores0, visible);
    attentionValues(scores0, headValues, valueStride, headDim, visible, 1.0 / sum, out + row);
  }
}
