// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto

import type { OwedAudit as _tessera_v1_OwedAudit, OwedAudit__Output as _tessera_v1_OwedAudit__Output } from '../../tessera/v1/OwedAudit.ts';
import type { Long } from '@grpc/proto-loader';

export interface HeartbeatReply {
  'serverTimeMs'?: (number | string | Long);
  /**
   * To a node: clients' audit requests against it still waiting for its ticket, earliest due
   * first, at most 64 per reply. The node tickets each step it still holds, as for a reveal on
   * the Forward stream; one past due_by_ms without a ticket is slashed as a refusal.
   */
  'owedAudits'?: (_tessera_v1_OwedAudit)[];
  /**
   * As in RegisterReply: 0 unless the node's stake is in its unstaking cooldown.
   */
  'unstakingUntilMs'?: (number | string | Long);
}

export interface HeartbeatReply__Output {
  'serverTimeMs': (number);
  /**
   * To a node: clients' audit requests against it still waiting for its ticket, earliest due
   * first, at most 64 per reply. The node tickets each step it still holds, as for a reveal on
   * the Forward stream; one past due_by_ms without a ticket is slashed as a refusal.
   */
  'owedAudits': (_tessera_v1_OwedAudit__Output)[];
  /**
   * As in RegisterReply: 0 unless the node's stake is in its unstaking cooldown.
   */
  'unstakingUntilMs': (number);
}
