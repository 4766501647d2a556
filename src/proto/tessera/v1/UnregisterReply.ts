// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto


export interface UnregisterReply {
}

export interface UnregisterReply__Output {
}
