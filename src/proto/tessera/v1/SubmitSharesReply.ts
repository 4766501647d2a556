// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/daemon.proto

import type { ShareVerdict as _tessera_v1_ShareVerdict, ShareVerdict__Output as _tessera_v1_ShareVerdict__Output } from '../../tessera/v1/ShareVerdict.ts';

export interface SubmitSharesReply {
  /**
   * One per share of the request, in its order.
   */
  'verdicts'?: (_tessera_v1_ShareVerdict)[];
}

export interface SubmitSharesReply__Output {
  /**
   * One per share of the request, in its order.
   */
  'verdicts': (_tessera_v1_ShareVerdict__Output)[];
}
