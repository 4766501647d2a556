// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/daemon.proto

import type { Block as _tessera_v1_Block, Block__Output as _tessera_v1_Block__Output } from '../../tessera/v1/Block.ts';

export interface PushBlockRequest {
  'block'?: (_tessera_v1_Block | null);
  /**
   * Where the pushing daemon serves, so the receiver can fetch missing ancestors from it.
   */
  'fromEndpoint'?: (string);
}

export interface PushBlockRequest__Output {
  'block': (_tessera_v1_Block__Output | null);
  /**
   * Where the pushing daemon serves, so the receiver can fetch missing ancestors from it.
   */
  'fromEndpoint': (string);
}
