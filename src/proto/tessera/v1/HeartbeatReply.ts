// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: /work/main/proto/tessera/v1/registry.proto

import type { Long } from '@grpc/proto-loader';

export interface HeartbeatReply {
  'serverTimeMs'?: (number | string | Long);
}

export interface HeartbeatReply__Output {
  'serverTimeMs': (number);
}
