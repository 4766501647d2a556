// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/node.proto


export interface TokenLogprob {
  'token'?: (number);
  'logprob'?: (number | string);
}

export interface TokenLogprob__Output {
  'token': (number);
  'logprob': (number);
}
