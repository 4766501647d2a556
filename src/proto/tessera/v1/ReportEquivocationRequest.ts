// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/membership.proto

import type { Signed as _tessera_v1_Signed, Signed__Output as _tessera_v1_Signed__Output } from '../../tessera/v1/Signed.ts';

export interface ReportEquivocationRequest {
  /**
   * Two signed block headers (src/chain/block.ts) of one producer for one slot.
   */
  'first'?: (_tessera_v1_Signed | null);
  'second'?: (_tessera_v1_Signed | null);
}

export interface ReportEquivocationRequest__Output {
  /**
   * Two signed block headers (src/chain/block.ts) of one producer for one slot.
   */
  'first': (_tessera_v1_Signed__Output | null);
  'second': (_tessera_v1_Signed__Output | null);
}
