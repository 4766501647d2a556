// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/verifier.proto


export interface AuditStatusRequest {
  'nodeId'?: (string);
}

export interface AuditStatusRequest__Output {
  'nodeId': (string);
}
