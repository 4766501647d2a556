// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/node.proto


export interface Opened {
  'nodeId'?: (string);
}

export interface Opened__Output {
  'nodeId': (string);
}
