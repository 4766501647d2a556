// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/daemon.proto

import type { Long } from '@grpc/proto-loader';

export interface NodeUsage {
  'nodeId'?: (string);
  'shares'?: (number | string | Long);
  /**
   * Sum of the shares' weights, in thousandths.
   */
  'weight'?: (number | string | Long);
  'tokens'?: (number | string | Long);
  /**
   * Sum over the node's shares of tokens times the base fee of the block that holds them.
   */
  'fees'?: (number | string | Long);
}

export interface NodeUsage__Output {
  'nodeId': (string);
  'shares': (number);
  /**
   * Sum of the shares' weights, in thousandths.
   */
  'weight': (number);
  'tokens': (number);
  /**
   * Sum over the node's shares of tokens times the base fee of the block that holds them.
   */
  'fees': (number);
}
