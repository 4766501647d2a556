// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/node.proto


export interface Hop {
  'nodeId'?: (string);
  'endpoint'?: (string);
  'shardIndex'?: (number);
  /**
   * Whether the node serves TLS at `endpoint` (as its registration says), so the hop before it
   * connects the right way.
   */
  'tls'?: (boolean);
}

export interface Hop__Output {
  'nodeId': (string);
  'endpoint': (string);
  'shardIndex': (number);
  /**
   * Whether the node serves TLS at `endpoint` (as its registration says), so the hop before it
   * connects the right way.
   */
  'tls': (boolean);
}
