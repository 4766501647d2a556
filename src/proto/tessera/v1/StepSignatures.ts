// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/node.proto

import type { Long } from '@grpc/proto-loader';

/**
 * The signatures of a step's commitments, sent after its StepResult and before the next one.
 */
export interface StepSignatures {
  'step'?: (number | string | Long);
  /**
   * One per commitment of StepResult `step`, in its order: the 65-byte signature its
   * Commitment.signature would hold.
   */
  'signatures'?: (Buffer | Uint8Array | string)[];
}

/**
 * The signatures of a step's commitments, sent after its StepResult and before the next one.
 */
export interface StepSignatures__Output {
  'step': (number);
  /**
   * One per commitment of StepResult `step`, in its order: the 65-byte signature its
   * Commitment.signature would hold.
   */
  'signatures': (Buffer)[];
}
