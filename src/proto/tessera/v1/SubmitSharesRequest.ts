// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: /work/main/proto/tessera/v1/daemon.proto

import type { Signed as _tessera_v1_Signed, Signed__Output as _tessera_v1_Signed__Output } from '../../tessera/v1/Signed.ts';

export interface SubmitSharesRequest {
  /**
   * Payload: a compute share (src/chain/share.ts), signed by the node's registered share key.
   */
  'shares'?: (_tessera_v1_Signed)[];
  /**
   * Payload: a usage receipt (src/chain/receipt.ts) signed by the client. Receipts the daemon
   * already holds may be left out.
   */
  'receipts'?: (_tessera_v1_Signed)[];
}

export interface SubmitSharesRequest__Output {
  /**
   * Payload: a compute share (src/chain/share.ts), signed by the node's registered share key.
   */
  'shares': (_tessera_v1_Signed__Output)[];
  /**
   * Payload: a usage receipt (src/chain/receipt.ts) signed by the client. Receipts the daemon
   * already holds may be left out.
   */
  'receipts': (_tessera_v1_Signed__Output)[];
}
