// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto

import type { Long } from '@grpc/proto-loader';

export interface AssignShardReply {
  'shardIndex'?: (number);
  /**
   * The layers [layer_start, layer_end) the shard holds, and whether the embedding or the head.
   */
  'layerStart'?: (number);
  'layerEnd'?: (number);
  'embedding'?: (boolean);
  'head'?: (boolean);
  /**
   * "driver" (holds the embedding), "validator" (holds the head) or "worker"; a one-shard model's
   * only shard is "driver".
   */
  'role'?: (string);
  /**
   * The assignment is held for the node until then (or until it registers).
   */
  'heldUntilMs'?: (number | string | Long);
}

export interface AssignShardReply__Output {
  'shardIndex': (number);
  /**
   * The layers [layer_start, layer_end) the shard holds, and whether the embedding or the head.
   */
  'layerStart': (number);
  'layerEnd': (number);
  'embedding': (boolean);
  'head': (boolean);
  /**
   * "driver" (holds the embedding), "validator" (holds the head) or "worker"; a one-shard model's
   * only shard is "driver".
   */
  'role': (string);
  /**
   * The assignment is held for the node until then (or until it registers).
   */
  'heldUntilMs': (number);
}
