// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/node.proto

import type { Long } from '@grpc/proto-loader';

/**
 * A node's signed statement that it turned input H(input) into output H(output) at this step, made
 * before it learns whether the step is audited.
 */
export interface Commitment {
  'nodeId'?: (string);
  /**
   * The span of shards [shard_index, shard_end) the node ran: its hop's, under the signature, so an
   * audit recomputes exactly those layers.
   */
  'shardIndex'?: (number);
  /**
   * sha256(session_id || step): identifies the step without naming the session.
   */
  'stepId'?: (Buffer | Uint8Array | string);
  'inputHash'?: (Buffer | Uint8Array | string);
  'outputHash'?: (Buffer | Uint8Array | string);
  /**
   * 65-byte recoverable secp256k1 signature (r || s || recovery) by node_id's key over
   * keccak256("tessera/v2/commitment" || 0x00 || message), where message is the fields in a fixed
   * layout: node_id (20 bytes), shard_index and shard_end (u32 big-endian each), step_id,
   * input_hash, output_hash (32 bytes each), timestamp_ms (u64 big-endian), then audit_commitment
   * (32 bytes, or nothing), then result_hash (32 bytes, or nothing); with a result hash the domain is
   * "tessera/v2/result-commitment" instead (v1 signed shard_index alone: a node served one shard).
   * Empty in a StepResult: it comes in the StepSignatures that follows (see the rule above Node).
   */
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
  /**
   * The last shard's only (empty on every other hop): sha256 of the SampledToken it returns and what
   * it sampled it with, in a fixed little-endian layout: token u32, logprob f32, number of
   * alternatives u32, each alternative's token u32 and logprob f32; then the position sampled u32,
   * Open's sampling (temperature f32, top_k u32, top_p f32, min_p f32, repetition_penalty f32,
   * seed u64, logprobs u32) and the step's history (count u32, each token u32). Appended to the
   * signed message, and then signed under "tessera/v2/result-commitment" instead: no hop can rewrite
   * the result on its way up, or the settings and history on their way down.
   */
  'resultHash'?: (Buffer | Uint8Array | string);
  /**
   * One past the span's last shard (see shard_index).
   */
  'shardEnd'?: (number);
  /**
   * A relay's only (every hop but the last): sha256 of the signatures of every later hop's
   * commitment of this step, 65 bytes each, joined in route order, as this node relayed them.
   * Appended to the signed message in result_hash's place, under "tessera/v3/relay-commitment": the
   * relay answers for every signature below it, so the hop before it checks its one signature, not
   * all of them. Empty in a StepResult (the signatures below come after it): whoever checks a
   * signature computes it from the StepSignatures; tickets and audit requests carry it.
   */
  'relayedHash'?: (Buffer | Uint8Array | string);
}

/**
 * A node's signed statement that it turned input H(input) into output H(output) at this step, made
 * before it learns whether the step is audited.
 */
export interface Commitment__Output {
  'nodeId': (string);
  /**
   * The span of shards [shard_index, shard_end) the node ran: its hop's, under the signature, so an
   * audit recomputes exactly those layers.
   */
  'shardIndex': (number);
  /**
   * sha256(session_id || step): identifies the step without naming the session.
   */
  'stepId': (Buffer);
  'inputHash': (Buffer);
  'outputHash': (Buffer);
  /**
   * 65-byte recoverable secp256k1 signature (r || s || recovery) by node_id's key over
   * keccak256("tessera/v2/commitment" || 0x00 || message), where message is the fields in a fixed
   * layout: node_id (20 bytes), shard_index and shard_end (u32 big-endian each), step_id,
   * input_hash, output_hash (32 bytes each), timestamp_ms (u64 big-endian), then audit_commitment
   * (32 bytes, or nothing), then result_hash (32 bytes, or nothing); with a result hash the domain is
   * "tessera/v2/result-commitment" instead (v1 signed shard_index alone: a node served one shard).
   * Empty in a StepResult: it comes in the StepSignatures that follows (see the rule above Node).
   */
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
  /**
   * The last shard's only (empty on every other hop): sha256 of the SampledToken it returns and what
   * it sampled it with, in a fixed little-endian layout: token u32, logprob f32, number of
   * alternatives u32, each alternative's token u32 and logprob f32; then the position sampled u32,
   * Open's sampling (temperature f32, top_k u32, top_p f32, min_p f32, repetition_penalty f32,
   * seed u64, logprobs u32) and the step's history (count u32, each token u32). Appended to the
   * signed message, and then signed under "tessera/v2/result-commitment" instead: no hop can rewrite
   * the result on its way up, or the settings and history on their way down.
   */
  'resultHash': (Buffer);
  /**
   * One past the span's last shard (see shard_index).
   */
  'shardEnd': (number);
  /**
   * A relay's only (every hop but the last): sha256 of the signatures of every later hop's
   * commitment of this step, 65 bytes each, joined in route order, as this node relayed them.
   * Appended to the signed message in result_hash's place, under "tessera/v3/relay-commitment": the
   * relay answers for every signature below it, so the hop before it checks its one signature, not
   * all of them. Empty in a StepResult (the signatures below come after it): whoever checks a
   * signature computes it from the StepSignatures; tickets and audit requests carry it.
   */
  'relayedHash': (Buffer);
}
