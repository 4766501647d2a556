// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto


export interface GetManifestRequest {
  'modelId'?: (string);
}

export interface GetManifestRequest__Output {
  'modelId': (string);
}
