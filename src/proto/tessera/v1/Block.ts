// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/daemon.proto

import type { Signed as _tessera_v1_Signed, Signed__Output as _tessera_v1_Signed__Output } from '../../tessera/v1/Signed.ts';
import type { BlockShare as _tessera_v1_BlockShare, BlockShare__Output as _tessera_v1_BlockShare__Output } from '../../tessera/v1/BlockShare.ts';

export interface Block {
  /**
   * Payload: the block header (src/chain/block.ts), signed by its producer; the block's hash is
   * sha256(payload).
   */
  'header'?: (_tessera_v1_Signed | null);
  /**
   * Every receipt the block's shares reference; empty in a headers-only answer.
   */
  'receipts'?: (_tessera_v1_Signed)[];
  /**
   * Every share-batch statement the block's shares are listed in; empty in a headers-only answer.
   */
  'statements'?: (_tessera_v1_Signed)[];
  /**
   * In block order; empty in a headers-only answer.
   */
  'shares'?: (_tessera_v1_BlockShare)[];
  /**
   * Payload: the roster (src/chain/roster.ts) the header's roster_hash names, signed by a registry
   * key; always sent, headers-only or not (empty for genesis).
   */
  'roster'?: (_tessera_v1_Signed | null);
}

export interface Block__Output {
  /**
   * Payload: the block header (src/chain/block.ts), signed by its producer; the block's hash is
   * sha256(payload).
   */
  'header': (_tessera_v1_Signed__Output | null);
  /**
   * Every receipt the block's shares reference; empty in a headers-only answer.
   */
  'receipts': (_tessera_v1_Signed__Output)[];
  /**
   * Every share-batch statement the block's shares are listed in; empty in a headers-only answer.
   */
  'statements': (_tessera_v1_Signed__Output)[];
  /**
   * In block order; empty in a headers-only answer.
   */
  'shares': (_tessera_v1_BlockShare__Output)[];
  /**
   * Payload: the roster (src/chain/roster.ts) the header's roster_hash names, signed by a registry
   * key; always sent, headers-only or not (empty for genesis).
   */
  'roster': (_tessera_v1_Signed__Output | null);
}
