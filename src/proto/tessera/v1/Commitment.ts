// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/node.proto

import type { Long } from '@grpc/proto-loader';

/**
 * A node's signed statement that it turned input H(input) into output H(output) at this step, made
 * before it learns whether the step is audited.
 */
export interface Commitment {
  'nodeId'?: (string);
  'shardIndex'?: (number);
  /**
   * sha256(session_id || step): identifies the step without naming the session.
   */
  'stepId'?: (Buffer | Uint8Array | string);
  'inputHash'?: (Buffer | Uint8Array | string);
  'outputHash'?: (Buffer | Uint8Array | string);
  'signature'?: (Buffer | Uint8Array | string);
  /**
   * When the node committed (its clock, ms since the epoch), under the signature: the registry takes
   * audit requests for the step only for audit.requestWindowMs after it, and the client refuses a
   * commitment dated far from its own clock, so a node cannot backdate its way out of an audit.
   */
  'timestampMs'?: (number | string | Long);
  /**
   * The session's audit commitment from Open (sha256 of the client's audit secret), under the
   * signature; empty for a session opened without one. It binds the one secret that may select this
   * step for audit, so a node knows after the reveal which steps it can ever owe.
   */
  'auditCommitment'?: (Buffer | Uint8Array | string);
}

/**
 * A node's signed statement that it turned input H(input) into output H(output) at this step, made
 * before it learns whether the step is audited.
 */
export interface Commitment__Output {
  'nodeId': (string);
  'shardIndex': (number);
  /**
   * sha256(session_id || step): identifies the step without naming the session.
   */
  'stepId': (Buffer);
  'inputHash': (Buffer);
  'outputHash': (Buffer);
  'signature': (Buffer);
  /**
   * When the node committed (its clock, ms since the epoch), under the signature: the registry takes
   * audit requests for the step only for audit.requestWindowMs after it, and the client refuses a
   * commitment dated far from its own clock, so a node cannot backdate its way out of an audit.
   */
  'timestampMs': (number);
  /**
   * The session's audit commitment from Open (sha256 of the client's audit secret), under the
   * signature; empty for a session opened without one. It binds the one secret that may select this
   * step for audit, so a node knows after the reveal which steps it can ever owe.
   */
  'auditCommitment': (Buffer);
}
