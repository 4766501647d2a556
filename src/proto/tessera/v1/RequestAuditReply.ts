// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/verifier.proto

import type { Long } from '@grpc/proto-loader';

export interface RequestAuditReply {
  /**
   * True when the ticket is already in (the request is then only on record).
   */
  'ticketed'?: (boolean);
  'dueByMs'?: (number | string | Long);
}

export interface RequestAuditReply__Output {
  /**
   * True when the ticket is already in (the request is then only on record).
   */
  'ticketed': (boolean);
  'dueByMs': (number);
}
