// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/node.proto

import type { TokenLogprob as _tessera_v1_TokenLogprob, TokenLogprob__Output as _tessera_v1_TokenLogprob__Output } from '../../tessera/v1/TokenLogprob.ts';

export interface SampledToken {
  'token'?: (number);
  'logprob'?: (number | string);
  'top'?: (_tessera_v1_TokenLogprob)[];
}

export interface SampledToken__Output {
  'token': (number);
  'logprob': (number);
  'top': (_tessera_v1_TokenLogprob__Output)[];
}
