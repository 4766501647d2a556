// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/daemon.proto

import type { Block as _tessera_v1_Block, Block__Output as _tessera_v1_Block__Output } from '../../tessera/v1/Block.ts';
import type { Long } from '@grpc/proto-loader';

export interface GetHeadReply {
  'head'?: (_tessera_v1_Block | null);
  'genesisHash'?: (Buffer | Uint8Array | string);
  /**
   * Accepted shares not yet in a block of the canonical chain.
   */
  'pendingShares'?: (number | string | Long);
}

export interface GetHeadReply__Output {
  'head': (_tessera_v1_Block__Output | null);
  'genesisHash': (Buffer);
  /**
   * Accepted shares not yet in a block of the canonical chain.
   */
  'pendingShares': (number);
}
