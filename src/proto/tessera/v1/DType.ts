// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/common.proto

/**
 * Hidden states and other tensors on the wire: raw little-endian bytes.
 */
export const DType = {
  DTYPE_UNSPECIFIED: 'DTYPE_UNSPECIFIED',
  DTYPE_F32: 'DTYPE_F32',
  DTYPE_F16: 'DTYPE_F16',
  DTYPE_BF16: 'DTYPE_BF16',
} as const;

/**
 * Hidden states and other tensors on the wire: raw little-endian bytes.
 */
export type DType =
  | 'DTYPE_UNSPECIFIED'
  | 0
  | 'DTYPE_F32'
  | 1
  | 'DTYPE_F16'
  | 2
  | 'DTYPE_BF16'
  | 3

/**
 * Hidden states and other tensors on the wire: raw little-endian bytes.
 */
export type DType__Output = typeof DType[keyof typeof DType]
