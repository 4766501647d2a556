// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/verifier.proto

import type { DType as _tessera_v1_DType, DType__Output as _tessera_v1_DType__Output } from '../../tessera/v1/DType.ts';
import type { Compression as _tessera_v1_Compression, Compression__Output as _tessera_v1_Compression__Output } from '../../tessera/v1/Compression.ts';

/**
 * A step's input exactly as the node received (and hashed) it, compressed: token ids as u32
 * little-endian (shard 0; dtype unspecified, shape [positions]), or hidden states in the dtype they
 * crossed the wire in (shape [positions, hidden]).
 */
export interface TicketInput {
  'tokens'?: (boolean);
  'dtype'?: (_tessera_v1_DType);
  'shape'?: (number)[];
  'compression'?: (_tessera_v1_Compression);
  'data'?: (Buffer | Uint8Array | string);
}

/**
 * A step's input exactly as the node received (and hashed) it, compressed: token ids as u32
 * little-endian (shard 0; dtype unspecified, shape [positions]), or hidden states in the dtype they
 * crossed the wire in (shape [positions, hidden]).
 */
export interface TicketInput__Output {
  'tokens': (boolean);
  'dtype': (_tessera_v1_DType__Output);
  'shape': (number)[];
  'compression': (_tessera_v1_Compression__Output);
  'data': (Buffer);
}
