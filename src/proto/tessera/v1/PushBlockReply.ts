// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/daemon.proto

import type { Long } from '@grpc/proto-loader';

export interface PushBlockReply {
  /**
   * Whether the block was taken (stored, and its chain chosen when better).
   */
  'accepted'?: (boolean);
  'message'?: (string);
  'headHeight'?: (number | string | Long);
}

export interface PushBlockReply__Output {
  /**
   * Whether the block was taken (stored, and its chain chosen when better).
   */
  'accepted': (boolean);
  'message': (string);
  'headHeight': (number);
}
