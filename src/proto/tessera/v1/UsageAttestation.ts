// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/node.proto

import type { Signed as _tessera_v1_Signed, Signed__Output as _tessera_v1_Signed__Output } from '../../tessera/v1/Signed.ts';

/**
 * The client's signed usage receipt for this session (src/chain/receipt.ts), sent at the end of a
 * generation and periodically during a long one; every hop passes it on. No reply: each node turns
 * the steps it covers into compute shares for the share-chain daemon.
 */
export interface UsageAttestation {
  'receipt'?: (_tessera_v1_Signed | null);
}

/**
 * The client's signed usage receipt for this session (src/chain/receipt.ts), sent at the end of a
 * generation and periodically during a long one; every hop passes it on. No reply: each node turns
 * the steps it covers into compute shares for the share-chain daemon.
 */
export interface UsageAttestation__Output {
  'receipt': (_tessera_v1_Signed__Output | null);
}
