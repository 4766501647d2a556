// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/node.proto

import type { Long } from '@grpc/proto-loader';

export interface Sampling {
  /**
   * 0: greedy.
   */
  'temperature'?: (number | string);
  'topK'?: (number);
  'topP'?: (number | string);
  'minP'?: (number | string);
  'repetitionPenalty'?: (number | string);
  'seed'?: (number | string | Long);
  /**
   * How many top alternatives to return per token (0: none).
   */
  'logprobs'?: (number);
}

export interface Sampling__Output {
  /**
   * 0: greedy.
   */
  'temperature': (number);
  'topK': (number);
  'topP': (number);
  'minP': (number);
  'repetitionPenalty': (number);
  'seed': (number);
  /**
   * How many top alternatives to return per token (0: none).
   */
  'logprobs': (number);
}
