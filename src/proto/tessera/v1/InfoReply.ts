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
}
