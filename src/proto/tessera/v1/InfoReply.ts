// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/node.proto


export interface InfoReply {
  'nodeId'?: (string);
  'modelId'?: (string);
  'shardIndex'?: (number);
  'layerStart'?: (number);
  'layerEnd'?: (number);
  'activeSessions'?: (number);
  'maxSessions'?: (number);
  'engineVersion'?: (string);
}

export interface InfoReply__Output {
  'nodeId': (string);
  'modelId': (string);
  'shardIndex': (number);
  'layerStart': (number);
  'layerEnd': (number);
  'activeSessions': (number);
  'maxSessions': (number);
  'engineVersion': (string);
}
