// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/daemon.proto

import type { Block as _tessera_v1_Block, Block__Output as _tessera_v1_Block__Output } from '../../tessera/v1/Block.ts';
import type { Long } from '@grpc/proto-loader';

export interface ExchangeBlocksReply {
  'blocks'?: (_tessera_v1_Block)[];
  'headHeight'?: (number | string | Long);
  'headHash'?: (Buffer | Uint8Array | string);
  /**
   * Whether more blocks follow the ones sent: ask again.
   */
  'more'?: (boolean);
}

export interface ExchangeBlocksReply__Output {
  'blocks': (_tessera_v1_Block__Output)[];
  'headHeight': (number);
  'headHash': (Buffer);
  /**
   * Whether more blocks follow the ones sent: ask again.
   */
  'more': (boolean);
}
