// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto

import type { Long } from '@grpc/proto-loader';

export interface ModelSummary {
  'modelId'?: (string);
  'architecture'?: (string);
  'shards'?: (number);
  /**
   * Price per 1000 tokens, in the cluster's smallest unit.
   */
  'pricePer_1kTokens'?: (number | string | Long);
}

export interface ModelSummary__Output {
  'modelId': (string);
  'architecture': (string);
  'shards': (number);
  /**
   * Price per 1000 tokens, in the cluster's smallest unit.
   */
  'pricePer_1kTokens': (number);
}
