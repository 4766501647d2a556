// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto

import type { Long } from '@grpc/proto-loader';

export interface RegistryPeer {
  'endpoint'?: (string);
  'clusterId'?: (string);
  'lastSeenMs'?: (number | string | Long);
}

export interface RegistryPeer__Output {
  'endpoint': (string);
  'clusterId': (string);
  'lastSeenMs': (number);
}
