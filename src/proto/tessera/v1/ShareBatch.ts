// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/daemon.proto

import type { Signed as _tessera_v1_Signed, Signed__Output as _tessera_v1_Signed__Output } from '../../tessera/v1/Signed.ts';

/**
 * Shares a node sends together, and its signature over them.
 */
export interface ShareBatch {
  /**
   * Payload: a share-batch statement (src/chain/statement.ts), {nodeId, shares: [hex sha256 of each
   * share payload]}, signed by the share key the node registered.
   */
  'statement'?: (_tessera_v1_Signed | null);
  /**
   * Compute share payloads (src/chain/share.ts), each of the statement's node and listed in it.
   */
  'shares'?: (Buffer | Uint8Array | string)[];
}

/**
 * Shares a node sends together, and its signature over them.
 */
export interface ShareBatch__Output {
  /**
   * Payload: a share-batch statement (src/chain/statement.ts), {nodeId, shares: [hex sha256 of each
   * share payload]}, signed by the share key the node registered.
   */
  'statement': (_tessera_v1_Signed__Output | null);
  /**
   * Compute share payloads (src/chain/share.ts), each of the statement's node and listed in it.
   */
  'shares': (Buffer)[];
}
