// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: /work/main/proto/tessera/v1/node.proto


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
}
