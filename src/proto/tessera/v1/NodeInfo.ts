// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto

import type { Long } from '@grpc/proto-loader';

export interface NodeInfo {
  'nodeId'?: (string);
  'endpoint'?: (string);
  /**
   * The shards [shard_index, shard_end) the node holds; a route may use any span of them.
   */
  'shardIndex'?: (number);
  /**
   * Sessions open / maximum sessions, as last reported.
   */
  'activeSessions'?: (number);
  'maxSessions'?: (number);
  /**
   * The node's own measure of its compute time per token for its layers, in microseconds.
   */
  'computeUsPerToken'?: (number);
  'pricePer_1kTokens'?: (number | string | Long);
  'lastSeenMs'?: (number | string | Long);
  'tls'?: (boolean);
  /**
   * READY, EXECUTING, IDLE or UNSTAKING: as the node last reported it, UNSTAKING whenever the
   * registry's stakes say so (src/node/node-state.ts).
   */
  'state'?: (string);
  /**
   * 0 unless UNSTAKING: the instant the stake may be withdrawn.
   */
  'unstakingUntilMs'?: (number | string | Long);
  /**
   * The speed tier the node measured on its own layers (T1 fastest .. T5), from its capabilities.
   */
  'tier'?: (string);
  /**
   * Whether the node may get new work; false only in a listing with include_ineligible.
   */
  'eligible'?: (boolean);
  /**
   * The network band of the node's measured round trip to its registry (lan, regional,
   * continental, global; unmeasured), from its capabilities.
   */
  'network'?: (string);
  'shardEnd'?: (number);
}

export interface NodeInfo__Output {
  'nodeId': (string);
  'endpoint': (string);
  /**
   * The shards [shard_index, shard_end) the node holds; a route may use any span of them.
   */
  'shardIndex': (number);
  /**
   * Sessions open / maximum sessions, as last reported.
   */
  'activeSessions': (number);
  'maxSessions': (number);
  /**
   * The node's own measure of its compute time per token for its layers, in microseconds.
   */
  'computeUsPerToken': (number);
  'pricePer_1kTokens': (number);
  'lastSeenMs': (number);
  'tls': (boolean);
  /**
   * READY, EXECUTING, IDLE or UNSTAKING: as the node last reported it, UNSTAKING whenever the
   * registry's stakes say so (src/node/node-state.ts).
   */
  'state': (string);
  /**
   * 0 unless UNSTAKING: the instant the stake may be withdrawn.
   */
  'unstakingUntilMs': (number);
  /**
   * The speed tier the node measured on its own layers (T1 fastest .. T5), from its capabilities.
   */
  'tier': (string);
  /**
   * Whether the node may get new work; false only in a listing with include_ineligible.
   */
  'eligible': (boolean);
  /**
   * The network band of the node's measured round trip to its registry (lan, regional,
   * continental, global; unmeasured), from its capabilities.
   */
  'network': (string);
  'shardEnd': (number);
}
