// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto

import type { Escrow as _tessera_v1_Escrow, Escrow__Output as _tessera_v1_Escrow__Output } from '../../tessera/v1/Escrow.ts';
import type { Long } from '@grpc/proto-loader';

export interface AccountReply {
  'address'?: (string);
  'stake'?: (string);
  /**
   * 0 unless unstaking: then the instant the stake may be withdrawn.
   */
  'unstakingUntilMs'?: (number | string | Long);
  'claimable'?: (string);
  /**
   * What this address has deposited as a client.
   */
  'deposited'?: (string);
  'escrow'?: (_tessera_v1_Escrow | null);
  /**
   * What it may still spend as a client: deposits less what posted and finalized settlements debit.
   */
  'balance'?: (string);
}

export interface AccountReply__Output {
  'address': (string);
  'stake': (string);
  /**
   * 0 unless unstaking: then the instant the stake may be withdrawn.
   */
  'unstakingUntilMs': (number);
  'claimable': (string);
  /**
   * What this address has deposited as a client.
   */
  'deposited': (string);
  'escrow': (_tessera_v1_Escrow__Output | null);
  /**
   * What it may still spend as a client: deposits less what posted and finalized settlements debit.
   */
  'balance': (string);
}
