/**
 * GGML block formats widened to f32, element for element as ggml's reference dequantizers compute
 * them (f32 arithmetic, same operation order).
 */
import { BLOCK_LAYOUT, byteSize, GgmlType, ggmlTypeName } from './ggml-type.ts';
import { bf16ToF32, f16BytesToF32, readF16 } from './half.ts';

const f32 = Math.fround;

/** Elements `count` of `bytes` (whole blocks of `type`) as f32. */
export function dequantize(
  type: GgmlType,
  bytes: Uint8Array,
  count: number,
  out: Float32Array = new Float32Array(count),
): Float32Array {
  const needed = byteSize(type, count);
  if (bytes.length < needed) {
    throw new Error(`${ggmlTypeName(type)}: ${count} elements need ${needed} bytes, got ${bytes.length}`);
  }
  if (out.length < count) throw new Error(`output holds ${out.length} elements, need ${count}`);
  const blocks = count / BLOCK_LAYOUT[type].elements;
  switch (type) {
    case GgmlType.F32: {
      const view = new DataView(bytes.buffer, bytes.byteOffset, needed);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    }
    case GgmlType.F16:
      return f16BytesToF32(bytes, 0, count, out);
    case GgmlType.BF16:
      for (let i = 0; i < count; i++) out[i] = bf16ToF32(bytes[2 * i]! | (bytes[2 * i + 1]! << 8));
      return out;
    case GgmlType.Q8_0:
      for (let b = 0; b < blocks; b++) dequantizeQ8_0(bytes, 34 * b, out, 32 * b);
      return out;
    case GgmlType.Q4_0:
      for (let b = 0; b < blocks; b++) dequantizeQ4_0(bytes, 18 * b, out, 32 * b);
      return out;
    case GgmlType.Q4_K:
      for (let b = 0; b < blocks; b++) dequantizeQ4_K(bytes, 144 * b, out, 256 * b);
      return out;
    case GgmlType.Q6_K:
      for (let b = 0; b < blocks; b++) dequantizeQ6_K(bytes, 210 * b, out, 256 * b);
      return out;
  }
}

function dequantizeQ8_0(bytes: Uint8Array, at: number, out: Float32Array, to: number): void {
  const d = readF16(bytes, at);
  for (let j = 0; j < 32; j++) out[to + j] = f32(((bytes[at + 2 + j]! << 24) >> 24) * d);
}

/** Byte j holds element j in its low nibble and element j+16 in its high nibble, both offset by 8. */
function dequantizeQ4_0(bytes: Uint8Array, at: number, out: Float32Array, to: number): void {
  const d = readF16(bytes, at);
  for (let j = 0; j < 16; j++) {
    const q = bytes[at + 2 + j]!;
    out[to + j] = f32(((q & 0xf) - 8) * d);
    out[to + j + 16] = f32(((q >> 4) - 8) * d);
  }
}

/**
 * Scale and min of sub-block j (0..7) from Q4_K's 12 packed bytes: sub-blocks 0-3 use the low 6
 * bits of bytes j and j+4; sub-blocks 4-7 take their low 4 bits from the nibbles of byte j+4 and
 * their top 2 bits from the spare top bits of bytes j-4 (scale) and j (min).
 */
export function q4kScaleMin(bytes: Uint8Array, scalesAt: number, j: number): [number, number] {
  const q = (k: number): number => bytes[scalesAt + k]!;
  if (j < 4) return [q(j) & 63, q(j + 4) & 63];
  return [(q(j + 4) & 0xf) | ((q(j - 4) >> 6) << 4), (q(j + 4) >> 4) | ((q(j) >> 6) << 4)];
}

/** d, dmin (f16), 12 bytes of scales/mins, then 128 bytes: each 32 bytes hold two sub-blocks. */
function dequantizeQ4_K(bytes: Uint8Array, at: number, out: Float32Array, to: number): void {
  const d = readF16(bytes, at);
  const dmin = readF16(bytes, at + 2);
  for (let chunk = 0; chunk < 4; chunk++) {
    const [sc1, m1] = q4kScaleMin(bytes, at + 4, 2 * chunk);
    const [sc2, m2] = q4kScaleMin(bytes, at + 4, 2 * chunk + 1);
    const d1 = f32(d * sc1),
      min1 = f32(dmin * m1);
    const d2 = f32(d * sc2),
      min2 = f32(dmin * m2);
    const qs = at + 16 + 32 * chunk;
    const y = to + 64 * chunk;
    for (let l = 0; l < 32; l++) {
      const q = bytes[qs + l]!;
      out[y + l] = f32(f32(d1 * (q & 0xf)) - min1);
      out[y + 32 + l] = f32(f32(d2 * (q >> 4)) - min2);
    }
  }
}

/**
 * ql[128] low 4 bits, qh[64] high 2 bits, int8 scales[16] (one per 16 elements), f16 d. Each half
 * of 128 elements uses 64 bytes of ql and 32 of qh: element l+32k (k=0..3) of the half takes its
 * low bits from ql[l] (k even) or ql[l+32] (k odd), low or high nibble by k<2, and bits 2k..2k+1 of
 * qh[l]; values are offset by 32.
 */
function dequantizeQ6_K(bytes: Uint8Array, at: number, out: Float32Array, to: number): void {
  const d = readF16(bytes, at + 208);
  for (let half = 0; half < 2; half++) {
    const ql = at + 64 * half;
    const qh = at + 128 + 32 * half;
    const sc = at + 192 + 8 * half;
    const y = to + 128 * half;
    for (let l = 0; l < 32; l++) {
      const is = l >> 4;
      const low0 = bytes[ql + l]!,
        low1 = bytes[ql + l + 32]!,
        high = bytes[qh + l]!;
      const q1 = ((low0 & 0xf) | ((high & 3) << 4)) - 32;
      const q2 = ((low1 & 0xf) | (((high >> 2) & 3) << 4)) - 32;
      const q3 = ((low0 >> 4) | (((high >> 4) & 3) << 4)) - 32;
      const q4 = ((low1 >> 4) | (((high >> 6) & 3) << 4)) - 32;
      const scale = (k: number): number => (bytes[sc + is + k]! << 24) >> 24;
      out[y + l] = f32(f32(d * scale(0)) * q1);
      out[y + l + 32] = f32(f32(d * scale(2)) * q2);
      out[y + l + 64] = f32(f32(d * scale(4)) * q3);
      out[y + l + 96] = f32(f32(d * scale(6)) * q4);
    }
  }
}
