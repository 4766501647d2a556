// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/daemon.proto

import type { Long } from '@grpc/proto-loader';

export interface GetBlockRequest {
  'height'?: (number | string | Long);
  /**
   * When set, the block with this hash (canonical or not) instead of the height.
   */
  'hash'?: (Buffer | Uint8Array | string);
  'headersOnly'?: (boolean);
}

export interface GetBlockRequest__Output {
  'height': (number);
  /**
   * When set, the block with this hash (canonical or not) instead of the height.
   */
  'hash': (Buffer);
  'headersOnly': (boolean);
}
