// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto


export interface ListModelsRequest {
}

export interface ListModelsRequest__Output {
}
