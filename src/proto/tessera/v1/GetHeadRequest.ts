// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/daemon.proto


export interface GetHeadRequest {
}

export interface GetHeadRequest__Output {
}
