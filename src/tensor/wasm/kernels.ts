// WebAssembly SIMD kernels: products of weight rows, read in their GGML block layout, with
// activation vectors. Compiled by AssemblyScript (`npm run build:wasm`); every argument that names
// memory is a byte address in the one shared memory.
//
// Determinism: each output is computed by one fixed sequence of float operations that depends
// only on its weight row and its token's activations: where a kernel handles four tokens at once
// (sharing the weight decoding), it repeats per token exactly the float operations of the 1-token
// kernel, and no kernel looks at the row range or token count it was given. Quantized products
// sum integers within a block (exact, so how they are summed does not matter) and then accumulate
// floats in a fixed order. No relaxed SIMD and no fused multiply-add exist here, so no platform
// can differ.
//
// Speed notes (V8's optimizing compiler): it hoists every load of a basic block to its top, so
// large unrolled bodies spill registers; inner loops here stay one block (or one 64-weight chunk)
// long and step pointers rather than recomputing addresses.
//
// Matmul kernels share one signature:
//   (w, cols, r0, r1, nTok, x, xd, xs, out, rows)
// w: row 0 of the weights; rows [r0, r1) are computed for tokens 0..nTok-1 and written to
// out[t*rows + r] (f32). x: the activations, nTok rows of `cols`, f32 for float weights and int16
// for quantized ones (see quantizeActivations); xd: the per-block activation scales (f32); xs: the
// sums of each 32 quantized activations (int16; Q4_0 and Q4_K only). Unused arguments are ignored.

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
 * Rows per tile of a multi-token product: a tile's weights (about 128 KiB) stay in cache while
 * every token passes over them, so each weight is read from memory once per product.
 */
@inline function tileRows(rowBytes: usize): i32 {
  return max(1, <i32>(<usize>131072 / rowBytes));
}

// ---------------------------------------------------------------------------------------------
// Activation quantization

/**
 * Quantizes n f32 values at x (n a multiple of `block`, 32 or 256) to int16 values in -127..127 at
 * qs with one f32 scale per block at ds (scale = max|x| / 127, values rounded to nearest even).
 * When sums is not 0, also writes the sum of every 32 quantized values there (int16: |sum| ≤ 4064).
 */
export function quantizeActivations(x: usize, n: i32, block: i32, qs: usize, ds: usize, sums: usize): void {
  for (let b = 0; b < n; b += block) {
    let m = f32x4.splat(0);
    for (let i = 0; i < block; i += 4) m = f32x4.max(m, f32x4.abs(v128.load(x + ((b + i) << 2))));
    const amax = max(max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)),
      max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
    const d: f32 = amax / 127;
    const id = f32x4.splat(d != 0 ? <f32>1 / d : 0);
    store<f32>(ds + ((b / block) << 2), d);
    for (let i = 0; i < block; i += 32) {
      let sum = i32x4.splat(0);
      for (let k = 0; k < 32; k += 8) {
        const at = x + ((b + i + k) << 2);
        const lo = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(at), id)));
        const hi = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(at, 16), id)));
        const q = i16x8.narrow_i32x4_s(lo, hi);
        v128.store(qs + ((b + i + k) << 1), q);
        sum = i32x4.add(sum, i32x4.extadd_pairwise_i16x8_s(q));
      }
      if (sums != 0) {
        store<i16>(sums + ((b + i) >> 4), i32x4.extract_lane(sum, 0) + i32x4.extract_lane(sum, 1) +
          i32x4.extract_lane(sum, 2) + i32x4.extract_lane(sum, 3));
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

export function matmulF32(w: usize, cols: i32, r0: i32, r1: i32, nTok: i32, x: usize, xd: usize, xs: usize, out: usize, rows: i32): void {
  matmulFloat(F32, w, cols, r0, r1, nTok, x, out, rows);
}

export function matmulF16(w: usize, cols: i32, r0: i32, r1: i32, nTok: i32, x: usize, xd: usize, xs: usize, out: usize, rows: i32): void {
  matmulFloat(F16, w, cols, r0, r1, nTok, x, out, rows);
}

export function matmulBF16(w: usize, cols: i32, r0: i32, r1: i32, nTok: i32, x: usize, xd: usize, xs: usize, out: usize, rows: i32): void {
  matmulFloat(BF16, w, cols, r0, r1, nTok, x, out, rows);
}

// ---------------------------------------------------------------------------------------------
// Q8_0 and Q4_0 weights x activations quantized per 32 (int16 values, f32 scale per block)
//
// Order per output: for each block in turn, acc += f32(integer dot, per lane) * (dw · dx) on one
// f32x4 accumulator; the result is hsum(acc).

const Q8_0: i32 = 8;
const Q4_0: i32 = 2;

@inline function block32Bytes(fmt: i32): usize {
  return fmt == Q8_0 ? 34 : 18;
}

/**
 * Weights k*8..k*8+7 of the 32-block at p as int16 (k constant). Q4_0 gives its raw nibbles
 * 0..15: bytes 0-7 and 8-15 hold elements 0-15 in their low nibbles and 16-31 in their high
 * nibbles; the −8 offset is applied to the block's sum instead (see q32Sum).
 */
@inline function q32Weights(fmt: i32, p: usize, k: i32): v128 {
  if (fmt == Q8_0) return v128.load8x8_s(p + 2 + (k << 3));
  const bytes = v128.load8x8_u(p + 2 + ((k & 1) << 3));
  return k < 2 ? v128.and(bytes, i16x8.splat(15)) : i16x8.shr_u(bytes, 4);
}

/** Integer dot product (int32x4 of partial sums) of the 32-block at p with the activations at x. */
@inline function q32Dot(fmt: i32, p: usize, x: usize): v128 {
  return dot32(q32Weights(fmt, p, 0), q32Weights(fmt, p, 1), q32Weights(fmt, p, 2), q32Weights(fmt, p, 3), x);
}

/** The block's integer dot product, with Q4_0's −8 offset taken off lane 0 (see q32Weights). */
@inline function q32Sum(fmt: i32, p: usize, x: usize, xs: usize): v128 {
  const sum = q32Dot(fmt, p, x);
  if (fmt == Q8_0) return sum;
  return i32x4.sub(sum, i32x4.replace_lane(i32x4.splat(0), 0, <i32>load<i16>(xs) << 3));
}

@inline function dotBlocks32(fmt: i32, w: usize, x: usize, xd: usize, xs: usize, nb: i32): f32 {
  const bs = block32Bytes(fmt);
  let acc = f32x4.splat(0);
  const end = w + <usize>nb * bs;
  for (let p = w, xp = x, dp = xd, sp = xs; p < end; p += bs, xp += 64, dp += 4, sp += 2) {
    const d = loadHalf(p) * load<f32>(dp);
    acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(q32Sum(fmt, p, xp, sp)), f32x4.splat(d)));
  }
  return hsum(acc);
}

// Sharing a block's widened weights between several tokens measured no faster here than
// re-widening them per token (the extra live registers spill), so these products only tile.
@inline function matmulBlocks32(fmt: i32, w: usize, cols: i32, r0: i32, r1: i32, nTok: i32, x: usize, xd: usize, xs: usize, out: usize, rows: i32): void {
  const nb = cols >> 5;
  const rowBytes = <usize>nb * block32Bytes(fmt);
  const xStride = <usize>cols << 1, dStride = <usize>nb << 2, sStride = <usize>nb << 1;
  const outStride = <usize>rows << 2;
  const tile = tileRows(rowBytes);
  for (let rt = r0; rt < r1; rt += tile) {
    const re = min(rt + tile, r1);
    for (let t = 0; t < nTok; t++) {
      const xt = x + <usize>t * xStride, dt = xd + <usize>t * dStride, st = xs + <usize>t * sStride;
      const o = out + <usize>t * outStride;
      for (let r = rt; r < re; r++) {
        store<f32>(o + (<usize>r << 2), dotBlocks32(fmt, w + <usize>r * rowBytes, xt, dt, st, nb));
      }
    }
  }
}

export function matmulQ8_0(w: usize, cols: i32, r0: i32, r1: i32, nTok: i32, x: usize, xd: usize, xs: usize, out: usize, rows: i32): void {
  matmulBlocks32(Q8_0, w, cols, r0, r1, nTok, x, xd, xs, out, rows);
}

export function matmulQ4_0(w: usize, cols: i32, r0: i32, r1: i32, nTok: i32, x: usize, xd: usize, xs: usize, out: usize, rows: i32): void {
  matmulBlocks32(Q4_0, w, cols, r0, r1, nTok, x, xd, xs, out, rows);
}

// ---------------------------------------------------------------------------------------------
// Q4_K weights x activations quantized per 256
//
// A super-block is Σ_j (d·sc_j·q − dmin·m_j)·x over 8 sub-blocks j of 32. Per super-block:
// isum = Σ_j sc_j · (Σ q·x)_j and msum = Σ_j m_j · (Σ x)_j as exact int32 lanes; then
// acc += f32(isum) * (d·dx) and macc += f32(msum) * (dmin·dx), both f32x4, in super-block
// order; the result is hsum(acc) − hsum(macc).

/** The four bytes of `word` as int32 lanes. */
@inline function bytesToI32x4(word: u32): v128 {
  return i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(i32x4.splat(word)));
}

/**
 * Scales or mins 4-7 from the 12 packed bytes: low 4 bits from `nibbles` (bytes 8-11, or those
 * shifted down by 4 for the mins), top 2 bits from the spare top bits of `low` (bytes 0-3 for
 * scales, 4-7 for mins). Entries 0-3 are simply `low & 0x3f3f3f3f`.
 */
@inline function q4kHigh(low: u32, nibbles: u32): u32 {
  return (nibbles & 0x0f0f0f0f) | (((low >> 6) & 0x03030303) << 4);
}

/** msum of the super-block: mins (bytes of the words at p+8, p+12) · the 8 int16 sums at s. */
@inline function q4kMinDot(p: usize, s: usize): v128 {
  const b = load<u32>(p, 8), c = load<u32>(p, 12);
  const mins = i16x8.extend_low_i8x16_u(i32x4.replace_lane(i32x4.splat(b & 0x3f3f3f3f), 1, q4kHigh(b, c >> 4)));
  return i32x4.dot_i16x8_s(mins, v128.load(s));
}

/**
 * Eight weights of the 64 held by the 32 bytes at q, as int16 (k constant): bytes 8(k&3)..+7,
 * low nibbles (first sub-block) for k < 4, high nibbles (second sub-block) for k ≥ 4.
 */
@inline function q4kWeights(q: usize, k: i32): v128 {
  const bytes = v128.load8x8_u(q + ((k & 3) << 3));
  return k < 4 ? v128.and(bytes, i16x8.splat(15)) : i16x8.shr_u(bytes, 4);
}

@inline function dotQ4Kx1(w: usize, x: usize, xd: usize, xs: usize, nb: i32): f32 {
  let acc = f32x4.splat(0), macc = f32x4.splat(0);
  const end = w + <usize>nb * 144;
  for (let p = w, xp = x, dp = xd, sp = xs; p < end; p += 144, xp += 512, dp += 4, sp += 16) {
    const a = load<u32>(p, 4), c = load<u32>(p, 12);
    // Lanes 0 and 1 of `scales` belong to the current 64-weight chunk; each chunk moves them on.
    let scales = bytesToI32x4(a & 0x3f3f3f3f), later = bytesToI32x4(q4kHigh(a, c));
    let isum = i32x4.splat(0);
    for (let q = p + 16, xq = xp; q < p + 144; q += 32, xq += 128) {
      const lo = dot32(q4kWeights(q, 0), q4kWeights(q, 1), q4kWeights(q, 2), q4kWeights(q, 3), xq);
      const hi = dot32(q4kWeights(q, 4), q4kWeights(q, 5), q4kWeights(q, 6), q4kWeights(q, 7), xq + 64);
      isum = i32x4.add(isum, i32x4.add(i32x4.mul(lo, splatLane(scales, 0)), i32x4.mul(hi, splatLane(scales, 1))));
      scales = i32x4.shuffle(scales, later, 2, 3, 4, 5);
      later = i32x4.shuffle(later, later, 2, 3, 2, 3);
    }
    const dx = load<f32>(dp);
    acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(isum), f32x4.splat(loadHalf(p) * dx)));
    macc = f32x4.add(macc, f32x4.mul(f32x4.convert_i32x4_s(q4kMinDot(p, sp)), f32x4.splat(loadHalf(p + 2) * dx)));
  }
  return hsum(acc) - hsum(macc);
}

/** isum + Σ over one 32-weight sub-block of (scaled int16 weights w0..w3) · (activations at x). */
@inline function accDot32(isum: v128, w0: v128, w1: v128, w2: v128, w3: v128, x: usize): v128 {
  return i32x4.add(isum, dot32(w0, w1, w2, w3, x));
}

/**
 * dotQ4Kx1 for four tokens. Each chunk's weights are widened and multiplied by their sub-block
 * scale once (int16: 15·63 fits), then dotted with every token.
 */
@inline function dotQ4Kx4(w: usize, x: usize, xStride: usize, xd: usize, dStride: usize, xs: usize, sStride: usize, nb: i32, out: usize, outStride: usize): void {
  let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0), acc2 = f32x4.splat(0), acc3 = f32x4.splat(0);
  let macc0 = f32x4.splat(0), macc1 = f32x4.splat(0), macc2 = f32x4.splat(0), macc3 = f32x4.splat(0);
  const end = w + <usize>nb * 144;
  for (let p = w, xp = x, dp = xd, sp = xs; p < end; p += 144, xp += 512, dp += 4, sp += 16) {
    const a = load<u32>(p, 4), c = load<u32>(p, 12);
    let scales = bytesToI32x4(a & 0x3f3f3f3f), later = bytesToI32x4(q4kHigh(a, c));
    let i0 = i32x4.splat(0), i1 = i32x4.splat(0), i2 = i32x4.splat(0), i3 = i32x4.splat(0);
    for (let q = p + 16, xq = xp; q < p + 144; q += 32, xq += 128) {
      // Scales are < 64, so the low int16 of an int32 lane holds the whole value.
      let s = i8x16.shuffle(scales, scales, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1);
      let w0 = i16x8.mul(q4kWeights(q, 0), s), w1 = i16x8.mul(q4kWeights(q, 1), s);
      let w2 = i16x8.mul(q4kWeights(q, 2), s), w3 = i16x8.mul(q4kWeights(q, 3), s);
      i0 = accDot32(i0, w0, w1, w2, w3, xq);
      i1 = accDot32(i1, w0, w1, w2, w3, xq + xStride);
      i2 = accDot32(i2, w0, w1, w2, w3, xq + 2 * xStride);
      i3 = accDot32(i3, w0, w1, w2, w3, xq + 3 * xStride);
      s = i8x16.shuffle(scales, scales, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5);
      w0 = i16x8.mul(q4kWeights(q, 4), s); w1 = i16x8.mul(q4kWeights(q, 5), s);
      w2 = i16x8.mul(q4kWeights(q, 6), s); w3 = i16x8.mul(q4kWeights(q, 7), s);
      i0 = accDot32(i0, w0, w1, w2, w3, xq + 64);
      i1 = accDot32(i1, w0, w1, w2, w3, xq + xStride + 64);
      i2 = accDot32(i2, w0, w1, w2, w3, xq + 2 * xStride + 64);
      i3 = accDot32(i3, w0, w1, w2, w3, xq + 3 * xStride + 64);
      scales = i32x4.shuffle(scales, later, 2, 3, 4, 5);
      later = i32x4.shuffle(later, later, 2, 3, 2, 3);
    }
    const d = loadHalf(p), dmin = loadHalf(p + 2);
    let dx = load<f32>(dp);
    acc0 = f32x4.add(acc0, f32x4.mul(f32x4.convert_i32x4_s(i0), f32x4.splat(d * dx)));
    macc0 = f32x4.add(macc0, f32x4.mul(f32x4.convert_i32x4_s(q4kMinDot(p, sp)), f32x4.splat(dmin * dx)));
    dx = load<f32>(dp + dStride);
    acc1 = f32x4.add(acc1, f32x4.mul(f32x4.convert_i32x4_s(i1), f32x4.splat(d * dx)));
    macc1 = f32x4.add(macc1, f32x4.mul(f32x4.convert_i32x4_s(q4kMinDot(p, sp + sStride)), f32x4.splat(dmin * dx)));
    dx = load<f32>(dp + 2 * dStride);
    acc2 = f32x4.add(acc2, f32x4.mul(f32x4.convert_i32x4_s(i2), f32x4.splat(d * dx)));
    macc2 = f32x4.add(macc2, f32x4.mul(f32x4.convert_i32x4_s(q4kMinDot(p, sp + 2 * sStride)), f32x4.splat(dmin * dx)));
    dx = load<f32>(dp + 3 * dStride);
    acc3 = f32x4.add(acc3, f32x4.mul(f32x4.convert_i32x4_s(i3), f32x4.splat(d * dx)));
    macc3 = f32x4.add(macc3, f32x4.mul(f32x4.convert_i32x4_s(q4kMinDot(p, sp + 3 * sStride)), f32x4.splat(dmin * dx)));
  }
  store<f32>(out, hsum(acc0) - hsum(macc0));
  store<f32>(out + outStride, hsum(acc1) - hsum(macc1));
  store<f32>(out + 2 * outStride, hsum(acc2) - hsum(macc2));
  store<f32>(out + 3 * outStride, hsum(acc3) - hsum(macc3));
}

export function matmulQ4_K(w: usize, cols: i32, r0: i32, r1: i32, nTok: i32, x: usize, xd: usize, xs: usize, out: usize, rows: i32): void {
  const nb = cols >> 8;
  const rowBytes = <usize>nb * 144;
  const xStride = <usize>cols << 1, dStride = <usize>nb << 2, sStride = <usize>nb << 4;
  const outStride = <usize>rows << 2;
  const tile = tileRows(rowBytes);
  for (let rt = r0; rt < r1; rt += tile) {
    const re = min(rt + tile, r1);
    let t = 0;
    for (; t + 4 <= nTok; t += 4) {
      for (let r = rt; r < re; r++) {
        const row = w + <usize>r * rowBytes, o = out + (<usize>r << 2);
        dotQ4Kx4(row, x + <usize>t * xStride, xStride, xd + <usize>t * dStride, dStride, xs + <usize>t * sStride, sStride, nb, o + <usize>t * outStride, outStride);
      }
    }
    for (; t < nTok; t++) {
      for (let r = rt; r < re; r++) {
        const row = w + <usize>r * rowBytes, o = out + (<usize>r << 2);
        store<f32>(o + <usize>t * outStride, dotQ4Kx1(row, x + <usize>t * xStride, xd + <usize>t * dStride, xs + <usize>t * sStride, nb));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Q6_K weights x activations quantized per 256
//
// Per super-block: isum = Σ_g sc_g · (Σ (q−32)·x)_g over 16 groups of 16, as int32 lanes; then
// acc += f32(isum) * (d·dx) on an f32x4 in super-block order; the result is hsum(acc).

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

/** isum + scale · (16 int16 weights lo|hi · 16 int16 activations at x). */
@inline function q6Acc(isum: v128, lo: v128, hi: v128, x: usize, scale: v128): v128 {
  const dot = i32x4.add(i32x4.dot_i16x8_s(lo, v128.load(x)), i32x4.dot_i16x8_s(hi, v128.load(x, 16)));
  return i32x4.add(isum, i32x4.mul(dot, scale));
}

/**
 * isum plus group g of an iteration (its bytes low0, low1, high; its scales at sc + 2g) against
 * the activations at x.
 */
@inline function q6GroupAcc(isum: v128, low0: v128, low1: v128, high: v128, x: usize, sc: usize, g: i32): v128 {
  const q = q6Group(low0, low1, high, g);
  return q6Acc(isum, i16x8.extend_low_i8x16_s(q), i16x8.extend_high_i8x16_s(q), x + (g << 6), i32x4.splat(load<i8>(sc + (g << 1))));
}

@inline function dotQ6Kx1(w: usize, x: usize, xd: usize, nb: i32): f32 {
  let acc = f32x4.splat(0);
  const end = w + <usize>nb * 210;
  for (let p = w, xp = x, dp = xd; p < end; p += 210, xp += 512, dp += 4) {
    let isum = i32x4.splat(0);
    // Two halves of 128 values, each in two parts of 16 bytes of ql/qh; a part feeds four groups.
    for (let i: usize = 0; i < 4; i++) {
      const half = i >> 1, part = i & 1;
      const ql = p + (half << 6) + (part << 4), qh = p + 128 + (half << 5) + (part << 4);
      const sc = p + 192 + (half << 3) + part, xq = xp + (half << 8) + (part << 5);
      const low0 = v128.load(ql), low1 = v128.load(ql, 32), high = v128.load(qh);
      isum = q6GroupAcc(isum, low0, low1, high, xq, sc, 0);
      isum = q6GroupAcc(isum, low0, low1, high, xq, sc, 1);
      isum = q6GroupAcc(isum, low0, low1, high, xq, sc, 2);
      isum = q6GroupAcc(isum, low0, low1, high, xq, sc, 3);
    }
    acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(isum), f32x4.splat(loadHalf(p + 208) * load<f32>(dp))));
  }
  return hsum(acc);
}

@inline function dotQ6Kx4(w: usize, x: usize, xStride: usize, xd: usize, dStride: usize, nb: i32, out: usize, outStride: usize): void {
  let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0), acc2 = f32x4.splat(0), acc3 = f32x4.splat(0);
  const end = w + <usize>nb * 210;
  for (let p = w, xp = x, dp = xd; p < end; p += 210, xp += 512, dp += 4) {
    let i0 = i32x4.splat(0), i1 = i32x4.splat(0), i2 = i32x4.splat(0), i3 = i32x4.splat(0);
    for (let i: usize = 0; i < 4; i++) {
      const half = i >> 1, part = i & 1;
      const ql = p + (half << 6) + (part << 4), qh = p + 128 + (half << 5) + (part << 4);
      const sc = p + 192 + (half << 3) + part;
      const x0 = xp + (half << 8) + (part << 5), x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
      const low0 = v128.load(ql), low1 = v128.load(ql, 32), high = v128.load(qh);
      let q = q6Group(low0, low1, high, 0);
      let lo = i16x8.extend_low_i8x16_s(q), hi = i16x8.extend_high_i8x16_s(q);
      let s = i32x4.splat(load<i8>(sc, 0));
      i0 = q6Acc(i0, lo, hi, x0, s); i1 = q6Acc(i1, lo, hi, x1, s);
      i2 = q6Acc(i2, lo, hi, x2, s); i3 = q6Acc(i3, lo, hi, x3, s);
      q = q6Group(low0, low1, high, 1);
      lo = i16x8.extend_low_i8x16_s(q); hi = i16x8.extend_high_i8x16_s(q);
      s = i32x4.splat(load<i8>(sc, 2));
      i0 = q6Acc(i0, lo, hi, x0 + 64, s); i1 = q6Acc(i1, lo, hi, x1 + 64, s);
      i2 = q6Acc(i2, lo, hi, x2 + 64, s); i3 = q6Acc(i3, lo, hi, x3 + 64, s);
      q = q6Group(low0, low1, high, 2);
      lo = i16x8.extend_low_i8x16_s(q); hi = i16x8.extend_high_i8x16_s(q);
      s = i32x4.splat(load<i8>(sc, 4));
      i0 = q6Acc(i0, lo, hi, x0 + 128, s); i1 = q6Acc(i1, lo, hi, x1 + 128, s);
      i2 = q6Acc(i2, lo, hi, x2 + 128, s); i3 = q6Acc(i3, lo, hi, x3 + 128, s);
      q = q6Group(low0, low1, high, 3);
      lo = i16x8.extend_low_i8x16_s(q); hi = i16x8.extend_high_i8x16_s(q);
      s = i32x4.splat(load<i8>(sc, 6));
      i0 = q6Acc(i0, lo, hi, x0 + 192, s); i1 = q6Acc(i1, lo, hi, x1 + 192, s);
      i2 = q6Acc(i2, lo, hi, x2 + 192, s); i3 = q6Acc(i3, lo, hi, x3 + 192, s);
    }
    const d = loadHalf(p + 208);
    acc0 = f32x4.add(acc0, f32x4.mul(f32x4.convert_i32x4_s(i0), f32x4.splat(d * load<f32>(dp))));
    acc1 = f32x4.add(acc1, f32x4.mul(f32x4.convert_i32x4_s(i1), f32x4.splat(d * load<f32>(dp + dStride))));
    acc2 = f32x4.add(acc2, f32x4.mul(f32x4.convert_i32x4_s(i2), f32x4.splat(d * load<f32>(dp + 2 * dStride))));
    acc3 = f32x4.add(acc3, f32x4.mul(f32x4.convert_i32x4_s(i3), f32x4.splat(d * load<f32>(dp + 3 * dStride))));
  }
  store<f32>(out, hsum(acc0));
  store<f32>(out + outStride, hsum(acc1));
  store<f32>(out + 2 * outStride, hsum(acc2));
  store<f32>(out + 3 * outStride, hsum(acc3));
}

export function matmulQ6_K(w: usize, cols: i32, r0: i32, r1: i32, nTok: i32, x: usize, xd: usize, xs: usize, out: usize, rows: i32): void {
  const nb = cols >> 8;
  const rowBytes = <usize>nb * 210;
  const xStride = <usize>cols << 1, dStride = <usize>nb << 2, outStride = <usize>rows << 2;
  const tile = tileRows(rowBytes);
  for (let rt = r0; rt < r1; rt += tile) {
    const re = min(rt + tile, r1);
    let t = 0;
    for (; t + 4 <= nTok; t += 4) {
      for (let r = rt; r < re; r++) {
        const row = w + <usize>r * rowBytes, o = out + (<usize>r << 2);
        dotQ6Kx4(row, x + <usize>t * xStride, xStride, xd + <usize>t * dStride, dStride, nb, o + <usize>t * outStride, outStride);
      }
    }
    for (; t < nTok; t++) {
      for (let r = rt; r < re; r++) {
        const row = w + <usize>r * rowBytes, o = out + (<usize>r << 2);
        store<f32>(o + <usize>t * outStride, dotQ6Kx1(row, x + <usize>t * xStride, xd + <usize>t * dStride, nb));
      }
    }
  }
}
