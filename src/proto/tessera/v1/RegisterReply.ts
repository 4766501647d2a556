// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto

import type { Long } from '@grpc/proto-loader';

export interface RegisterReply {
  /**
   * How often the registry expects a heartbeat; a node missing several is evicted.
   */
  'heartbeatIntervalMs'?: (number);
  'registeredAtMs'?: (number | string | Long);
  /**
   * The cluster's audit sampling rate: a node tickets the steps clients' revealed secrets select
   * at this rate (src/protocol/audit-selection.ts).
   */
  'auditSamplingRate'?: (number | string);
  /**
   * How long the node must keep each step it may be audited on (audit.requestWindowMs +
   * audit.ticketDeadlineMs + maxClockSkewMs): the registry may hand it a request for the step until
   * then. The node refuses new sessions rather than drop such a step to its window's bounds.
   */
  'auditRetentionMs'?: (number | string | Long);
  /**
   * 0 unless the node's stake is in its unstaking cooldown: then the instant it may be withdrawn.
   * The node takes no new sessions meanwhile (NODE_UNSTAKING) and says so in its state.
   */
  'unstakingUntilMs'?: (number | string | Long);
}

export interface RegisterReply__Output {
  /**
   * How often the registry expects a heartbeat; a node missing several is evicted.
   */
  'heartbeatIntervalMs': (number);
  'registeredAtMs': (number);
  /**
   * The cluster's audit sampling rate: a node tickets the steps clients' revealed secrets select
   * at this rate (src/protocol/audit-selection.ts).
   */
  'auditSamplingRate': (number);
  /**
   * How long the node must keep each step it may be audited on (audit.requestWindowMs +
   * audit.ticketDeadlineMs + maxClockSkewMs): the registry may hand it a request for the step until
   * then. The node refuses new sessions rather than drop such a step to its window's bounds.
   */
  'auditRetentionMs': (number);
  /**
   * 0 unless the node's stake is in its unstaking cooldown: then the instant it may be withdrawn.
   * The node takes no new sessions meanwhile (NODE_UNSTAKING) and says so in its state.
   */
  'unstakingUntilMs': (number);
}
