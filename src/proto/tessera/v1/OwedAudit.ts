// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto

import type { Long } from '@grpc/proto-loader';

/**
 * One audited step a node owes a ticket for: what the client's signed audit request names.
 */
export interface OwedAudit {
  /**
   * The step id of the node's signed commitment (sha256(session || step)).
   */
  'stepId'?: (Buffer | Uint8Array | string);
  /**
   * The commitment's span of shards [shard_index, shard_end).
   */
  'shardIndex'?: (number);
  /**
   * The client's revealed secret: it selects the step (src/protocol/audit-selection.ts), which the node may check.
   */
  'secret'?: (Buffer | Uint8Array | string);
  'dueByMs'?: (number | string | Long);
  /**
   * Hex sha256 of the commitment's signed message (ticketIdOf): exactly one commitment, where a
   * replayed step shares its step id with another. The node answers for this one only.
   */
  'ticketId'?: (string);
  'shardEnd'?: (number);
}

/**
 * One audited step a node owes a ticket for: what the client's signed audit request names.
 */
export interface OwedAudit__Output {
  /**
   * The step id of the node's signed commitment (sha256(session || step)).
   */
  'stepId': (Buffer);
  /**
   * The commitment's span of shards [shard_index, shard_end).
   */
  'shardIndex': (number);
  /**
   * The client's revealed secret: it selects the step (src/protocol/audit-selection.ts), which the node may check.
   */
  'secret': (Buffer);
  'dueByMs': (number);
  /**
   * Hex sha256 of the commitment's signed message (ticketIdOf): exactly one commitment, where a
   * replayed step shares its step id with another. The node answers for this one only.
   */
  'ticketId': (string);
  'shardEnd': (number);
}
