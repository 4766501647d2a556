// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/daemon.proto

import type { NodeUsage as _tessera_v1_NodeUsage, NodeUsage__Output as _tessera_v1_NodeUsage__Output } from './NodeUsage.ts';
import type { ClientUsage as _tessera_v1_ClientUsage, ClientUsage__Output as _tessera_v1_ClientUsage__Output } from './ClientUsage.ts';
import type { Long } from '@grpc/proto-loader';

export interface SettlementSummary {
  'window'?: (number | string | Long);
  'fromHeight'?: (number | string | Long);
  'toHeight'?: (number | string | Long);
  'lastBlockHash'?: (Buffer | Uint8Array | string);
  'nodes'?: (_tessera_v1_NodeUsage)[];
  'clients'?: (_tessera_v1_ClientUsage)[];
  'totalShares'?: (number | string | Long);
  'totalWeight'?: (number | string | Long);
  'totalTokens'?: (number | string | Long);
  'totalFees'?: (number | string | Long);
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
  'nodes': (_tessera_v1_NodeUsage__Output)[];
  'clients': (_tessera_v1_ClientUsage__Output)[];
  'totalShares': (number);
  'totalWeight': (number);
  'totalTokens': (number);
  'totalFees': (number);
  /**
   * sha256 of the canonical JSON of the fields above (src/chain/summary.ts).
   */
  'hash': (Buffer);
}
