import { status } from '@grpc/grpc-js';
import type { MembershipHandlers } from '../proto/tessera/v1/Membership.ts';
import type { Member } from './membership.ts';

/** Where the Membership service reads members from: the registry's admission records. */
export interface MemberDirectory {
  /** The members among `nodeIds` (any status), and every live member of `liveRole` when it is not ''. */
  members(nodeIds: readonly string[], liveRole: string): Member[];
}

/** Ids per lookup: a daemon asks for the nodes of one batch of shares. */
export const MAX_LOOKUP_IDS = 10_000;

/** The Membership service's handlers, for the registry to serve beside Registry. */
export function membershipHandlers(directory: MemberDirectory): MembershipHandlers {
  return {
    LookupMembers: (call, callback) => {
      const { nodeIds, liveRole } = call.request;
      if (nodeIds.length > MAX_LOOKUP_IDS)
        return callback({
          code: status.INVALID_ARGUMENT,
          details: `${nodeIds.length} ids in one lookup; at most ${MAX_LOOKUP_IDS}`,
        });
      const members = directory.members(nodeIds, liveRole);
      callback(null, {
        members: members.map((m) => ({
          nodeId: m.nodeId,
          role: m.role,
          modelId: m.modelId,
          shardIndex: m.shardIndex,
          shareKey: m.shareKey,
          endpoint: m.endpoint,
          tls: m.tls,
          status: m.status === 'live' ? 'MEMBER_LIVE' : 'MEMBER_EVICTED',
          lastSeenMs: m.lastSeenMs,
        })),
      });
    },
  };
}
