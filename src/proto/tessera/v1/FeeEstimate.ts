// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/daemon.proto

import type { Long } from '@grpc/proto-loader';

export interface FeeEstimate {
  /**
   * The base price per token of the next block, in the cluster's smallest unit.
   */
  'baseFeePerToken'?: (number | string | Long);
  'headHeight'?: (number | string | Long);
  'headBaseFeePerToken'?: (number | string | Long);
  'headShares'?: (number);
  /**
   * The fullness the fee steers toward, and a block's capacity, in shares.
   */
  'targetShares'?: (number);
  'maxShares'?: (number);
  'pendingShares'?: (number | string | Long);
}

export interface FeeEstimate__Output {
  /**
   * The base price per token of the next block, in the cluster's smallest unit.
   */
  'baseFeePerToken': (number);
  'headHeight': (number);
  'headBaseFeePerToken': (number);
  'headShares': (number);
  /**
   * The fullness the fee steers toward, and a block's capacity, in shares.
   */
  'targetShares': (number);
  'maxShares': (number);
  'pendingShares': (number);
}
