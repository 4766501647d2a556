// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/daemon.proto

import type { Block as _tessera_v1_Block, Block__Output as _tessera_v1_Block__Output } from '../../tessera/v1/Block.ts';
import type { Long } from '@grpc/proto-loader';

export interface GetBlocksReply {
  'blocks'?: (_tessera_v1_Block)[];
  'headHeight'?: (number | string | Long);
}

export interface GetBlocksReply__Output {
  'blocks': (_tessera_v1_Block__Output)[];
  'headHeight': (number);
}
