// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/daemon.proto

import type { UsageFlow as _tessera_v1_UsageFlow, UsageFlow__Output as _tessera_v1_UsageFlow__Output } from '../../tessera/v1/UsageFlow.ts';
import type { Long } from '@grpc/proto-loader';

export interface SettlementSummary {
  'window'?: (number | string | Long);
  'fromHeight'?: (number | string | Long);
  'toHeight'?: (number | string | Long);
  'lastBlockHash'?: (Buffer | Uint8Array | string);
  /**
   * Sorted by client, then node.
   */
  'flows'?: (_tessera_v1_UsageFlow)[];
  'totalShares'?: (number | string | Long);
  'totalTokens'?: (number | string | Long);
  /**
   * Decimal integer string.
   */
  'totalFees'?: (string);
  /**
   * sha256 of the canonical JSON of the fields above (src/chain/summary.ts).
   */
  'hash'?: (Buffer | Uint8Array | string);
}

export interface SettlementSummary__Output {
  'window': (number);
  'fromHeight': (number);
  'toHeight': (number);
  'lastBlockHash': (Buffer);
  /**
   * Sorted by client, then node.
   */
  'flows': (_tessera_v1_UsageFlow__Output)[];
  'totalShares': (number);
  'totalTokens': (number);
  /**
   * Decimal integer string.
   */
  'totalFees': (string);
  /**
   * sha256 of the canonical JSON of the fields above (src/chain/summary.ts).
   */
  'hash': (Buffer);
}
