// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/verifier.proto

import type { ProofStatus as _tessera_v1_ProofStatus, ProofStatus__Output as _tessera_v1_ProofStatus__Output } from '../../tessera/v1/ProofStatus.ts';

export interface FraudProofReply {
  'proofId'?: (string);
  'status'?: (_tessera_v1_ProofStatus);
  'accused'?: (string);
  /**
   * Decimal amount taken from the node's stake; empty when no settlement back end holds stakes.
   */
  'slashedAmount'?: (string);
  'detail'?: (string);
}

export interface FraudProofReply__Output {
  'proofId': (string);
  'status': (_tessera_v1_ProofStatus__Output);
  'accused': (string);
  /**
   * Decimal amount taken from the node's stake; empty when no settlement back end holds stakes.
   */
  'slashedAmount': (string);
  'detail': (string);
}
