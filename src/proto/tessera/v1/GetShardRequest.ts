// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto

import type { Long } from '@grpc/proto-loader';

export interface GetShardRequest {
  'modelId'?: (string);
  /**
   * A shard file or the tokenizer file the model's manifest names; nothing else is served.
   */
  'file'?: (string);
  /**
   * Where to start: a node resuming a partial download asks for the rest.
   */
  'offset'?: (number | string | Long);
}

export interface GetShardRequest__Output {
  'modelId': (string);
  /**
   * A shard file or the tokenizer file the model's manifest names; nothing else is served.
   */
  'file': (string);
  /**
   * Where to start: a node resuming a partial download asks for the rest.
   */
  'offset': (number);
}
