// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/node.proto

import type { SampledToken as _tessera_v1_SampledToken, SampledToken__Output as _tessera_v1_SampledToken__Output } from '../../tessera/v1/SampledToken.ts';
import type { Commitment as _tessera_v1_Commitment, Commitment__Output as _tessera_v1_Commitment__Output } from '../../tessera/v1/Commitment.ts';
import type { Long } from '@grpc/proto-loader';

export interface StepResult {
  'step'?: (number | string | Long);
  'sampled'?: (_tessera_v1_SampledToken | null);
  /**
   * One per hop from the sending node's to the last, shard 0 first; signatures empty.
   */
  'commitments'?: (_tessera_v1_Commitment)[];
}

export interface StepResult__Output {
  'step': (number);
  'sampled': (_tessera_v1_SampledToken__Output | null);
  /**
   * One per hop from the sending node's to the last, shard 0 first; signatures empty.
   */
  'commitments': (_tessera_v1_Commitment__Output)[];
}
