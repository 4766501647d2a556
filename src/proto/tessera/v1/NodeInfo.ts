// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto

import type { Long } from '@grpc/proto-loader';

export interface NodeInfo {
  'nodeId'?: (string);
  'endpoint'?: (string);
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
}

export interface NodeInfo__Output {
  'nodeId': (string);
  'endpoint': (string);
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
}
