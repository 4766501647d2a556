// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/membership.proto

import type { Long } from '@grpc/proto-loader';

export interface GetRosterRequest {
  'epoch'?: (number | string | Long);
  /**
   * The chain's slot length and epoch length: the registry places the epoch on its clock with them.
   */
  'blockIntervalMs'?: (number);
  'epochSlots'?: (number);
}

export interface GetRosterRequest__Output {
  'epoch': (number);
  /**
   * The chain's slot length and epoch length: the registry places the epoch on its clock with them.
   */
  'blockIntervalMs': (number);
  'epochSlots': (number);
}
