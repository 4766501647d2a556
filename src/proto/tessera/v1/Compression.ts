// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/verifier.proto

export const Compression = {
  COMPRESSION_NONE: 'COMPRESSION_NONE',
  COMPRESSION_DEFLATE: 'COMPRESSION_DEFLATE',
} as const;

export type Compression =
  | 'COMPRESSION_NONE'
  | 0
  | 'COMPRESSION_DEFLATE'
  | 1

export type Compression__Output = typeof Compression[keyof typeof Compression]
