// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/daemon.proto

import type { Signed as _tessera_v1_Signed, Signed__Output as _tessera_v1_Signed__Output } from '../../tessera/v1/Signed.ts';
import type { ShareBatch as _tessera_v1_ShareBatch, ShareBatch__Output as _tessera_v1_ShareBatch__Output } from '../../tessera/v1/ShareBatch.ts';

export interface SubmitSharesRequest {
  /**
   * Payload: a usage receipt (src/chain/receipt.ts) signed by the client. Receipts the daemon
   * already holds may be left out.
   */
  'receipts'?: (_tessera_v1_Signed)[];
  'batches'?: (_tessera_v1_ShareBatch)[];
}

export interface SubmitSharesRequest__Output {
  /**
   * Payload: a usage receipt (src/chain/receipt.ts) signed by the client. Receipts the daemon
   * already holds may be left out.
   */
  'receipts': (_tessera_v1_Signed__Output)[];
  'batches': (_tessera_v1_ShareBatch__Output)[];
}
