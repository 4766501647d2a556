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
  /**
   * Why not, when not taken: INVALID_BLOCK (it breaks a rule of the chain; message names which),
   * REORG_PAST_FINALITY (valid, but its chain forks below the final blocks), UNKNOWN_PARENT (its
   * parent is not held: the daemon fetches the chain) or UNCHECKED (it could not be checked now).
   */
  'reason'?: (string);
}

export interface PushBlockReply__Output {
  /**
   * Whether the block was taken (stored, and its chain chosen when better).
   */
  'accepted': (boolean);
  'message': (string);
  'headHeight': (number);
  /**
   * Why not, when not taken: INVALID_BLOCK (it breaks a rule of the chain; message names which),
   * REORG_PAST_FINALITY (valid, but its chain forks below the final blocks), UNKNOWN_PARENT (its
   * parent is not held: the daemon fetches the chain) or UNCHECKED (it could not be checked now).
   */
  'reason': (string);
}
