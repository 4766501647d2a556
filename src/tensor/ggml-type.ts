/**
 * Tensor element types as numbered by GGML (the GGUF `type` field). Only the types the engine can
 * compute with are listed in BLOCK_LAYOUT; every other id is known by name so errors can say which
 * type a file used.
 */
export const GgmlType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q8_0: 8,
  Q4_K: 12,
  Q6_K: 14,
  BF16: 30,
} as const;
export type GgmlType = (typeof GgmlType)[keyof typeof GgmlType];

/** Every type id GGML has defined, for error messages about the ones we do not support. */
const GGML_TYPE_NAMES: Record<number, string> = {
  0: 'F32',
  1: 'F16',
  2: 'Q4_0',
  3: 'Q4_1',
  6: 'Q5_0',
  7: 'Q5_1',
  8: 'Q8_0',
  9: 'Q8_1',
  10: 'Q2_K',
  11: 'Q3_K',
  12: 'Q4_K',
  13: 'Q5_K',
  14: 'Q6_K',
  15: 'Q8_K',
  16: 'IQ2_XXS',
  17: 'IQ2_XS',
  18: 'IQ3_XXS',
  19: 'IQ1_S',
  20: 'IQ4_NL',
  21: 'IQ3_S',
  22: 'IQ2_S',
  23: 'IQ4_XS',
  24: 'I8',
  25: 'I16',
  26: 'I32',
  27: 'I64',
  28: 'F64',
  29: 'IQ1_M',
  30: 'BF16',
  34: 'TQ1_0',
  35: 'TQ2_0',
  39: 'MXFP4',
};

export interface BlockLayout {
  /** Elements per block. */
  readonly elements: number;
  /** Bytes per block. */
  readonly bytes: number;
}

export const BLOCK_LAYOUT: Readonly<Record<GgmlType, BlockLayout>> = {
  [GgmlType.F32]: { elements: 1, bytes: 4 },
  [GgmlType.F16]: { elements: 1, bytes: 2 },
  [GgmlType.BF16]: { elements: 1, bytes: 2 },
  // f16 scale + 32 signed 4-bit values (offset 8)
  [GgmlType.Q4_0]: { elements: 32, bytes: 18 },
  // f16 scale + 32 int8
  [GgmlType.Q8_0]: { elements: 32, bytes: 34 },
  // f16 d, f16 dmin, 12 bytes of packed 6-bit scales/mins, 128 bytes of 4-bit quants
  [GgmlType.Q4_K]: { elements: 256, bytes: 144 },
  // 128 bytes low 4 bits, 64 bytes high 2 bits, 16 int8 scales, f16 d
  [GgmlType.Q6_K]: { elements: 256, bytes: 210 },
};

export function ggmlTypeName(type: number): string {
  return GGML_TYPE_NAMES[type] ?? `unknown type ${type}`;
}

export function isSupportedType(type: number): type is GgmlType {
  return Object.prototype.hasOwnProperty.call(BLOCK_LAYOUT, type);
}

/** Bytes taken by `count` elements (a whole number of blocks) of `type`. */
export function byteSize(type: GgmlType, count: number): number {
  const { elements, bytes } = BLOCK_LAYOUT[type];
  if (count % elements !== 0) {
    throw new Error(`${ggmlTypeName(type)} needs a multiple of ${elements} elements, got ${count}`);
  }
  return (count / elements) * bytes;
}
