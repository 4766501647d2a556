// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/node.proto

import type { Tensor as _tessera_v1_Tensor, Tensor__Output as _tessera_v1_Tensor__Output } from '../../tessera/v1/Tensor.ts';
import type { Long } from '@grpc/proto-loader';

export interface Step {
  'step'?: (number | string | Long);
  /**
   * The first position this step covers; the session's cache must hold exactly the positions before
   * it (a smaller value discards the rest: a replay).
   */
  'startPosition'?: (number);
  /**
   * Shard 0 takes token ids; later shards take hidden states.
   */
  'tokens'?: (number)[];
  'hidden'?: (_tessera_v1_Tensor | null);
  /**
   * Tokens generated so far that the last shard's repetition penalty should see.
   */
  'history'?: (number)[];
}

export interface Step__Output {
  'step': (number);
  /**
   * The first position this step covers; the session's cache must hold exactly the positions before
   * it (a smaller value discards the rest: a replay).
   */
  'startPosition': (number);
  /**
   * Shard 0 takes token ids; later shards take hidden states.
   */
  'tokens': (number)[];
  'hidden': (_tessera_v1_Tensor__Output | null);
  /**
   * Tokens generated so far that the last shard's repetition penalty should see.
   */
  'history': (number)[];
}
