/**
 * f32 values to GGML block bytes. Q8_0 and Q4_0 follow ggml's reference quantizers operation for
 * operation (so they give llama.cpp's bytes); Q4_K and Q6_K use a simple one-pass choice of scales
 * (no iterative search) that still yields valid blocks.
 */
import { BLOCK_LAYOUT, byteSize, GgmlType } from './ggml-type.ts';
import { f16ToF32, f32ToBf16, f32ToF16 } from './half.ts';

const f32 = Math.fround;

/** `src` (a whole number of blocks of `type`) as block bytes. */
export function quantize(type: GgmlType, src: Float32Array, out?: Uint8Array): Uint8Array {
  const size = byteSize(type, src.length);
  const dst = out ?? new Uint8Array(size);
  if (dst.length < size) throw new Error(`output holds ${dst.length} bytes, need ${size}`);
  const view = new DataView(dst.buffer, dst.byteOffset, size);
  const blocks = src.length / BLOCK_LAYOUT[type].elements;
  switch (type) {
    case GgmlType.F32:
      for (let i = 0; i < src.length; i++) view.setFloat32(4 * i, src[i]!, true);
      return dst;
    case GgmlType.F16:
      for (let i = 0; i < src.length; i++) view.setUint16(2 * i, f32ToF16(src[i]!), true);
      return dst;
    case GgmlType.BF16:
      for (let i = 0; i < src.length; i++) view.setUint16(2 * i, f32ToBf16(src[i]!), true);
      return dst;
    case GgmlType.Q8_0:
      for (let b = 0; b < blocks; b++) quantizeQ8_0(src, 32 * b, view, 34 * b);
      return dst;
    case GgmlType.Q4_0:
      for (let b = 0; b < blocks; b++) quantizeQ4_0(src, 32 * b, view, 18 * b);
      return dst;
    case GgmlType.Q4_K:
      for (let b = 0; b < blocks; b++) quantizeQ4_K(src, 256 * b, view, 144 * b);
      return dst;
    case GgmlType.Q6_K:
      for (let b = 0; b < blocks; b++) quantizeQ6_K(src, 256 * b, view, 210 * b);
      return dst;
  }
}

/** C's roundf: halves away from zero. */
function roundAway(v: number): number {
  return v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5);
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

function quantizeQ8_0(src: Float32Array, from: number, view: DataView, at: number): void {
  let amax = 0;
  for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(src[from + j]!));
  const d = f32(amax / 127);
  const id = d !== 0 ? f32(1 / d) : 0;
  view.setUint16(at, f32ToF16(d), true);
  for (let j = 0; j < 32; j++) view.setInt8(at + 2 + j, roundAway(f32(src[from + j]! * id)));
}

function quantizeQ4_0(src: Float32Array, from: number, view: DataView, at: number): void {
  // The value of largest magnitude, with its sign, maps to -8 so the full range -8..7 is used.
  let amax = 0,
    max = 0;
  for (let j = 0; j < 32; j++) {
    const v = src[from + j]!;
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  const d = f32(max / -8);
  const id = d !== 0 ? f32(1 / d) : 0;
  view.setUint16(at, f32ToF16(d), true);
  const q = (j: number): number => Math.min(15, Math.trunc(f32(f32(src[from + j]! * id) + 8.5)));
  for (let j = 0; j < 16; j++) view.setUint8(at + 2 + j, q(j) | (q(j + 16) << 4));
}

/**
 * Each 32-value sub-block j is mapped onto d·sc_j·q − dmin·m_j with q in 0..15: the offset dmin·m_j
 * is rounded up to cover the sub-block's minimum (clamped to ≤ 0), the step is rounded up to reach
 * its maximum, so only the 6-bit clamps can clip.
 */
function quantizeQ4_K(src: Float32Array, from: number, view: DataView, at: number): void {
  const lows = new Float64Array(8),
    highs = new Float64Array(8);
  let maxOffset = 0;
  for (let j = 0; j < 8; j++) {
    let lo = 0,
      hi = -Infinity;
    for (let l = 0; l < 32; l++) {
      const v = src[from + 32 * j + l]!;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    lows[j] = lo;
    highs[j] = hi;
    maxOffset = Math.max(maxOffset, -lo);
  }
  const dminBits = f32ToF16(maxOffset / 63);
  const dmin = f16ToF32(dminBits);
  const mins = new Uint8Array(8);
  const steps = new Float64Array(8);
  for (let j = 0; j < 8; j++) {
    mins[j] = dmin > 0 ? clamp(Math.ceil(-lows[j]! / dmin), 0, 63) : 0;
    steps[j] = (highs[j]! + f32(dmin * mins[j]!)) / 15;
  }
  const dBits = f32ToF16(Math.max(...steps) / 63);
  const d = f16ToF32(dBits);
  const scales = new Uint8Array(8);
  for (let j = 0; j < 8; j++) scales[j] = d > 0 ? clamp(Math.ceil(steps[j]! / d), 0, 63) : 0;

  view.setUint16(at, dBits, true);
  view.setUint16(at + 2, dminBits, true);
  for (let j = 0; j < 4; j++) {
    view.setUint8(at + 4 + j, scales[j]! | ((scales[j + 4]! >> 4) << 6));
    view.setUint8(at + 8 + j, mins[j]! | ((mins[j + 4]! >> 4) << 6));
    view.setUint8(at + 12 + j, (scales[j + 4]! & 0xf) | ((mins[j + 4]! & 0xf) << 4));
  }
  const q = new Uint8Array(256);
  for (let j = 0; j < 8; j++) {
    const step = f32(d * scales[j]!);
    const offset = f32(dmin * mins[j]!);
    for (let l = 0; l < 32; l++) {
      const i = 32 * j + l;
      q[i] = step > 0 ? clamp(Math.round((src[from + i]! + offset) / step), 0, 15) : 0;
    }
  }
  for (let chunk = 0; chunk < 4; chunk++) {
    for (let l = 0; l < 32; l++) {
      view.setUint8(at + 16 + 32 * chunk + l, q[64 * chunk + l]! | (q[64 * chunk + 32 + l]! << 4));
    }
  }
}

/**
 * Each 16-value group takes the signed step that maps its largest-magnitude value to -32 (the end
 * of the range -32..31 that has room); the steps are stored as int8 multiples of one f16 scale.
 */
function quantizeQ6_K(src: Float32Array, from: number, view: DataView, at: number): void {
  const groupSteps = new Float64Array(16);
  let maxStep = 0;
  for (let g = 0; g < 16; g++) {
    let amax = 0,
      max = 0;
    for (let l = 0; l < 16; l++) {
      const v = src[from + 16 * g + l]!;
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    groupSteps[g] = max / -32;
    maxStep = Math.max(maxStep, amax / 32);
  }
  const dBits = f32ToF16(maxStep / 127);
  const d = f16ToF32(dBits);
  const q = new Uint8Array(256);
  for (let g = 0; g < 16; g++) {
    const scale = d > 0 ? clamp(Math.round(groupSteps[g]! / d), -127, 127) : 0;
    view.setInt8(at + 192 + g, scale);
    const step = f32(d * scale);
    for (let l = 0; l < 16; l++) {
      const i = 16 * g + l;
      q[i] = (step !== 0 ? clamp(Math.round(src[from + i]! / step), -32, 31) : 0) + 32;
    }
  }
  view.setUint16(at + 208, dBits, true);
  for (let half = 0; half < 2; half++) {
    for (let l = 0; l < 32; l++) {
      const y = 128 * half + l;
      const q1 = q[y]!,
        q2 = q[y + 32]!,
        q3 = q[y + 64]!,
        q4 = q[y + 96]!;
      view.setUint8(at + 64 * half + l, (q1 & 0xf) | ((q3 & 0xf) << 4));
      view.setUint8(at + 64 * half + l + 32, (q2 & 0xf) | ((q4 & 0xf) << 4));
      view.setUint8(at + 128 + 32 * half + l, (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
    }
  }
}
