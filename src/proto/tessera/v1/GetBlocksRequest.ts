// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/daemon.proto

import type { Long } from '@grpc/proto-loader';

export interface GetBlocksRequest {
  'fromHeight'?: (number | string | Long);
  'toHeight'?: (number | string | Long);
  'headersOnly'?: (boolean);
}

export interface GetBlocksRequest__Output {
  'fromHeight': (number);
  'toHeight': (number);
  'headersOnly': (boolean);
}
