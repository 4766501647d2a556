// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: /work/main/proto/tessera/v1/daemon.proto

import type { Signed as _tessera_v1_Signed, Signed__Output as _tessera_v1_Signed__Output } from '../../tessera/v1/Signed.ts';

export interface Block {
  /**
   * Payload: the block header (src/chain/block.ts), signed by its producer; the block's hash is
   * sha256(payload).
   */
  'header'?: (_tessera_v1_Signed | null);
  /**
   * In block order; empty in a headers-only answer.
   */
  'shares'?: (_tessera_v1_Signed)[];
  /**
   * Every receipt the block's shares reference.
   */
  'receipts'?: (_tessera_v1_Signed)[];
}

export interface Block__Output {
  /**
   * Payload: the block header (src/chain/block.ts), signed by its producer; the block's hash is
   * sha256(payload).
   */
  'header': (_tessera_v1_Signed__Output | null);
  /**
   * In block order; empty in a headers-only answer.
   */
  'shares': (_tessera_v1_Signed__Output)[];
  /**
   * Every receipt the block's shares reference.
   */
  'receipts': (_tessera_v1_Signed__Output)[];
}
