// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto

import type { Long } from '@grpc/proto-loader';

export interface AssignShardReply {
  /**
   * The shards [shard_index, shard_end) to hold: a span sized to the node's memory. They hold the
   * layers [layer_start, layer_end), and the embedding or the head when it says so.
   */
  'shardIndex'?: (number);
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
  'shardEnd'?: (number);
}

export interface AssignShardReply__Output {
  /**
   * The shards [shard_index, shard_end) to hold: a span sized to the node's memory. They hold the
   * layers [layer_start, layer_end), and the embedding or the head when it says so.
   */
  'shardIndex': (number);
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
  'shardEnd': (number);
}
