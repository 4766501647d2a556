// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/daemon.proto

import type { Long } from '@grpc/proto-loader';

export interface GetSettlementSummaryRequest {
  'window'?: (number | string | Long);
}

export interface GetSettlementSummaryRequest__Output {
  'window': (number);
}
