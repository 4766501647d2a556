// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto

import type { Long } from '@grpc/proto-loader';

export interface ShardChunk {
  /**
   * The file's bytes from the request's offset, in order; the stream ends after the last.
   */
  'data'?: (Buffer | Uint8Array | string);
  /**
   * The file's whole size, on every chunk.
   */
  'totalBytes'?: (number | string | Long);
}

export interface ShardChunk__Output {
  /**
   * The file's bytes from the request's offset, in order; the stream ends after the last.
   */
  'data': (Buffer);
  /**
   * The file's whole size, on every chunk.
   */
  'totalBytes': (number);
}
