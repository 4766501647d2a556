// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: /work/main/proto/tessera/v1/node.proto


export interface Hop {
  'nodeId'?: (string);
  'endpoint'?: (string);
  'shardIndex'?: (number);
}

export interface Hop__Output {
  'nodeId': (string);
  'endpoint': (string);
  'shardIndex': (number);
}
