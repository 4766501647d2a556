// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/node.proto


export interface InfoReply {
  'nodeId'?: (string);
  'modelId'?: (string);
  /**
   * The shards [shard_index, shard_end) the node holds (it may serve any span of them), which are
   * the layers [layer_start, layer_end).
   */
  'shardIndex'?: (number);
  'layerStart'?: (number);
  'layerEnd'?: (number);
  'activeSessions'?: (number);
  'maxSessions'?: (number);
  'engineVersion'?: (string);
  'shardEnd'?: (number);
  /**
   * The rules of the Forward stream this node follows (src/protocol/version.ts, FORWARD_PROTOCOL):
   * what it signs and what it checks of the hops below it. A client routes only through nodes that
   * name its own, so nodes of two releases never relay for each other, each failing the other's
   * signatures.
   */
  'forwardProtocol'?: (string);
}

export interface InfoReply__Output {
  'nodeId': (string);
  'modelId': (string);
  /**
   * The shards [shard_index, shard_end) the node holds (it may serve any span of them), which are
   * the layers [layer_start, layer_end).
   */
  'shardIndex': (number);
  'layerStart': (number);
  'layerEnd': (number);
  'activeSessions': (number);
  'maxSessions': (number);
  'engineVersion': (string);
  'shardEnd': (number);
  /**
   * The rules of the Forward stream this node follows (src/protocol/version.ts, FORWARD_PROTOCOL):
   * what it signs and what it checks of the hops below it. A client routes only through nodes that
   * name its own, so nodes of two releases never relay for each other, each failing the other's
   * signatures.
   */
  'forwardProtocol': (string);
}
