// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/node.proto

import type { Hop as _tessera_v1_Hop, Hop__Output as _tessera_v1_Hop__Output } from '../../tessera/v1/Hop.ts';
import type { Sampling as _tessera_v1_Sampling, Sampling__Output as _tessera_v1_Sampling__Output } from '../../tessera/v1/Sampling.ts';

export interface Open {
  'sessionId'?: (string);
  'modelId'?: (string);
  /**
   * Every hop of the route, shard 0 first; each node forwards to the hop after its own.
   */
  'route'?: (_tessera_v1_Hop)[];
  'sampling'?: (_tessera_v1_Sampling | null);
  /**
   * "off" is the only mode served so far.
   */
  'outputMode'?: (string);
  /**
   * The client's public key (for receipts and encrypted outputs).
   */
  'clientKey'?: (Buffer | Uint8Array | string);
  /**
   * sha256 of the client's audit secret (32 bytes; empty: the session is not audited). Steps that
   * start at position 0 are kept until the secret is revealed, which selects those audited.
   */
  'auditCommitment'?: (Buffer | Uint8Array | string);
}

export interface Open__Output {
  'sessionId': (string);
  'modelId': (string);
  /**
   * Every hop of the route, shard 0 first; each node forwards to the hop after its own.
   */
  'route': (_tessera_v1_Hop__Output)[];
  'sampling': (_tessera_v1_Sampling__Output | null);
  /**
   * "off" is the only mode served so far.
   */
  'outputMode': (string);
  /**
   * The client's public key (for receipts and encrypted outputs).
   */
  'clientKey': (Buffer);
  /**
   * sha256 of the client's audit secret (32 bytes; empty: the session is not audited). Steps that
   * start at position 0 are kept until the secret is revealed, which selects those audited.
   */
  'auditCommitment': (Buffer);
}
