// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/verifier.proto

export const ProofStatus = {
  PROOF_STATUS_UNSPECIFIED: 'PROOF_STATUS_UNSPECIFIED',
  /**
   * The registry recomputed the ticket and got the verifier's hash: the node is slashed and evicted.
   */
  PROOF_CONFIRMED: 'PROOF_CONFIRMED',
  /**
   * The registry could not recompute (no shard file, another engine version) or got a third hash:
   * kept for audit only.
   */
  PROOF_UNCONFIRMED: 'PROOF_UNCONFIRMED',
  /**
   * The registry's recomputation matches the commitment: the verifier is wrong; kept for audit.
   */
  PROOF_REFUTED: 'PROOF_REFUTED',
} as const;

export type ProofStatus =
  | 'PROOF_STATUS_UNSPECIFIED'
  | 0
  /**
   * The registry recomputed the ticket and got the verifier's hash: the node is slashed and evicted.
   */
  | 'PROOF_CONFIRMED'
  | 1
  /**
   * The registry could not recompute (no shard file, another engine version) or got a third hash:
   * kept for audit only.
   */
  | 'PROOF_UNCONFIRMED'
  | 2
  /**
   * The registry's recomputation matches the commitment: the verifier is wrong; kept for audit.
   */
  | 'PROOF_REFUTED'
  | 3

export type ProofStatus__Output = typeof ProofStatus[keyof typeof ProofStatus]
