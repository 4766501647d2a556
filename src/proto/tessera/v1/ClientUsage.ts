// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/daemon.proto

import type { Long } from '@grpc/proto-loader';

export interface ClientUsage {
  /**
   * The address of the client key that signed the receipts.
   */
  'client'?: (string);
  'tokens'?: (number | string | Long);
  'fees'?: (number | string | Long);
}

export interface ClientUsage__Output {
  /**
   * The address of the client key that signed the receipts.
   */
  'client': (string);
  'tokens': (number);
  'fees': (number);
}
