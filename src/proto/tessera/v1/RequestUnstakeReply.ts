// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto

import type { Long } from '@grpc/proto-loader';

export interface RequestUnstakeReply {
  /**
   * The node gets no new work from now and may withdraw from this instant.
   */
  'unstakingUntilMs'?: (number | string | Long);
}

export interface RequestUnstakeReply__Output {
  /**
   * The node gets no new work from now and may withdraw from this instant.
   */
  'unstakingUntilMs': (number);
}
