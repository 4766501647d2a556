// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/daemon.proto

import type { ShareRejection as _tessera_v1_ShareRejection, ShareRejection__Output as _tessera_v1_ShareRejection__Output } from '../../tessera/v1/ShareRejection.ts';

export interface ShareVerdict {
  'shareHash'?: (Buffer | Uint8Array | string);
  'accepted'?: (boolean);
  'rejection'?: (_tessera_v1_ShareRejection);
  /**
   * Why, in words, when rejected.
   */
  'message'?: (string);
}

export interface ShareVerdict__Output {
  'shareHash': (Buffer);
  'accepted': (boolean);
  'rejection': (_tessera_v1_ShareRejection__Output);
  /**
   * Why, in words, when rejected.
   */
  'message': (string);
}
