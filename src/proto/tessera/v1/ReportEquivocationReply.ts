// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/membership.proto

import type { Long } from '@grpc/proto-loader';

export interface ReportEquivocationReply {
  'producer'?: (string);
  'slot'?: (number | string | Long);
  /**
   * sha256 of the two block hashes, sorted: the slash's evidence hash.
   */
  'evidenceHash'?: (Buffer | Uint8Array | string);
  /**
   * Decimal: the stake taken ('0' where the registry has no settlement back end).
   */
  'slashed'?: (string);
}

export interface ReportEquivocationReply__Output {
  'producer': (string);
  'slot': (number);
  /**
   * sha256 of the two block hashes, sorted: the slash's evidence hash.
   */
  'evidenceHash': (Buffer);
  /**
   * Decimal: the stake taken ('0' where the registry has no settlement back end).
   */
  'slashed': (string);
}
