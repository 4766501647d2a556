// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto

import type { NodeInfo as _tessera_v1_NodeInfo, NodeInfo__Output as _tessera_v1_NodeInfo__Output } from '../../tessera/v1/NodeInfo.ts';

export interface DiscoverReply {
  'manifestJson'?: (string);
  'nodes'?: (_tessera_v1_NodeInfo)[];
  /**
   * The cluster's audit sampling rate: the fraction of a session's position-0 steps (per shard) a
   * client's revealed secret selects (src/protocol/audit-selection.ts).
   */
  'auditSamplingRate'?: (number | string);
}

export interface DiscoverReply__Output {
  'manifestJson': (string);
  'nodes': (_tessera_v1_NodeInfo__Output)[];
  /**
   * The cluster's audit sampling rate: the fraction of a session's position-0 steps (per shard) a
   * client's revealed secret selects (src/protocol/audit-selection.ts).
   */
  'auditSamplingRate': (number);
}
