// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/daemon.proto


export interface GetFeeEstimateRequest {
}

export interface GetFeeEstimateRequest__Output {
}
