/**
 * IEEE half precision (f16) and bfloat16 (bf16) conversions. Widening is exact; narrowing rounds to
 * nearest, ties to even, keeps subnormals, overflows to infinity and keeps NaNs quiet NaNs.
 */

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

function f32Bits(value: number): number {
  scratchF32[0] = value;
  return scratchU32[0]!;
}

function bitsF32(bits: number): number {
  scratchU32[0] = bits;
  return scratchF32[0]!;
}

export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >>> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/** Narrowing from the f32 value of `value` (a double is first rounded to f32, as storage would). */
export function f32ToF16(value: number): number {
  const bits = f32Bits(value);
  const sign = (bits >>> 16) & 0x8000;
  const magnitude = bits & 0x7fffffff;
  if (magnitude >= 0x7f800000) {
    // NaN keeps its top payload bits and is forced quiet so it cannot turn into infinity.
    return magnitude === 0x7f800000 ? sign | 0x7c00 : sign | 0x7e00 | ((magnitude >>> 13) & 0x3ff);
  }
  // 65520 is the midpoint between the largest half (65504) and 2^16: it and above round to infinity.
  if (magnitude >= 0x477ff000) return sign | 0x7c00;
  if (magnitude < 0x38800000) {
    // Below the smallest normal half: the result is a count of 2^-24 steps (1024 becomes the
    // smallest normal, whose bit pattern is exactly 0x400).
    const steps = bitsF32(magnitude) * 2 ** 24;
    let rounded = Math.floor(steps);
    const rest = steps - rounded;
    if (rest > 0.5 || (rest === 0.5 && (rounded & 1) === 1)) rounded += 1;
    return sign | rounded;
  }
  // Rebias the exponent and round the 13 dropped mantissa bits; a carry ripples into the exponent.
  const roundBias = 0xfff + ((magnitude >>> 13) & 1);
  return sign | ((magnitude - ((127 - 15) << 23) + roundBias) >>> 13);
}

export function bf16ToF32(h: number): number {
  return bitsF32((h & 0xffff) << 16);
}

export function f32ToBf16(value: number): number {
  const bits = f32Bits(value);
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

let f16Table: Float32Array | undefined;

/** All 65536 f16 values widened, built on first use: bulk widening is then one lookup each. */
function f16Lookup(): Float32Array {
  if (f16Table === undefined) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16ToF32(h);
  }
  return f16Table;
}

export function f16ToF32Array(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  const table = f16Lookup();
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]!]!;
  return out;
}

export function f32ToF16Array(src: Float32Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) out[i] = f32ToF16(src[i]!);
  return out;
}

export function bf16ToF32Array(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
  return out;
}

export function f32ToBf16Array(src: Float32Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) out[i] = f32ToBf16(src[i]!);
  return out;
}

/** Widens `count` little-endian f16 values starting at byte `offset` of `bytes`. */
export function f16BytesToF32(
  bytes: Uint8Array,
  offset: number,
  count: number,
  out: Float32Array = new Float32Array(count),
): Float32Array {
  const table = f16Lookup();
  for (let i = 0; i < count; i++) {
    const o = offset + 2 * i;
    out[i] = table[bytes[o]! | (bytes[o + 1]! << 8)]!;
  }
  return out;
}

/** The f16 at byte `offset` of `bytes` (little-endian), widened. */
export function readF16(bytes: Uint8Array, offset: number): number {
  return f16Lookup()[bytes[offset]! | (bytes[offset + 1]! << 8)]!;
}
