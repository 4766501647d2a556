// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/common.proto

import type { DType as _tessera_v1_DType, DType__Output as _tessera_v1_DType__Output } from '../../tessera/v1/DType.ts';

export interface Tensor {
  'dtype'?: (_tessera_v1_DType);
  /**
   * Outermost first: [positions, hidden] for hidden states.
   */
  'shape'?: (number)[];
  'data'?: (Buffer | Uint8Array | string);
}

export interface Tensor__Output {
  'dtype': (_tessera_v1_DType__Output);
  /**
   * Outermost first: [positions, hidden] for hidden states.
   */
  'shape': (number)[];
  'data': (Buffer);
}
