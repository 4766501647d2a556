// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/daemon.proto

import type { Long } from '@grpc/proto-loader';

/**
 * What one client's receipts pay one node for in a window: the basis of a payment from that
 * client's deposit to that node, and of nothing else.
 */
export interface UsageFlow {
  /**
   * The address of the client key that signed the receipts.
   */
  'client'?: (string);
  'nodeId'?: (string);
  'shares'?: (number | string | Long);
  'tokens'?: (number | string | Long);
  /**
   * Sum over these shares of tokens times the base fee of the block that holds them: a decimal
   * integer string (it may exceed 2^64).
   */
  'fees'?: (string);
}

/**
 * What one client's receipts pay one node for in a window: the basis of a payment from that
 * client's deposit to that node, and of nothing else.
 */
export interface UsageFlow__Output {
  /**
   * The address of the client key that signed the receipts.
   */
  'client': (string);
  'nodeId': (string);
  'shares': (number);
  'tokens': (number);
  /**
   * Sum over these shares of tokens times the base fee of the block that holds them: a decimal
   * integer string (it may exceed 2^64).
   */
  'fees': (string);
}
