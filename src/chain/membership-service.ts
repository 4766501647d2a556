import { status, type ServiceError } from '@grpc/grpc-js';
import { TesseraError } from '../core/errors.ts';
import { toStatusObject } from '../rpc/status.ts';
import type { MembershipHandlers } from '../proto/tessera/v1/Membership.ts';
import type { SignedRecord } from '../protocol/record.ts';
import type { EquivocationVerdict, Member, RosterClock, SignedRoster } from './membership.ts';

/** Where the Membership service reads members from: the registry's admission records. */
export interface MemberDirectory {
  /** The members among `nodeIds` (any status), and every live member of `liveRole` when it is not ''. */
  members(nodeIds: readonly string[], liveRole: string): Member[];
}

/** The registry's roster signing (src/registry/roster-signer.ts); refusals are TesseraErrors. */
export interface RosterAuthority {
  roster(epoch: number, clock: RosterClock): Promise<SignedRoster>;
}

/** The registry's judgment of equivocation evidence (src/registry/equivocation.ts); refusals are TesseraErrors. */
export interface EquivocationJudge {
  report(first: SignedRecord, second: SignedRecord): Promise<EquivocationVerdict>;
}

/** Ids per lookup: a daemon asks for the nodes of one batch of shares. */
export const MAX_LOOKUP_IDS = 10_000;

const refusal = (error: unknown): ServiceError => toStatusObject(error) as ServiceError;

/** The Membership service's handlers, for the registry to serve beside Registry. */
export function membershipHandlers(
  directory: MemberDirectory,
  registry: { readonly rosters?: RosterAuthority; readonly equivocation?: EquivocationJudge } = {},
): MembershipHandlers {
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
          shardEnd: m.shardEnd,
          shareKey: m.shareKey,
          shareKeys: [...m.shareKeys],
          endpoint: m.endpoint,
          tls: m.tls,
          status: m.status === 'live' ? 'MEMBER_LIVE' : 'MEMBER_EVICTED',
          lastSeenMs: m.lastSeenMs,
        })),
      });
    },
    GetRoster: (call, callback) => {
      const { epoch, blockIntervalMs, epochSlots } = call.request;
      if (registry.rosters === undefined)
        return callback(
          refusal(
            new TesseraError(
              'NO_ROSTERS',
              'failed_precondition',
              'this Membership service signs no rosters: ask the registry',
            ),
          ),
        );
      registry.rosters.roster(epoch, { blockIntervalMs, epochSlots }).then(
        (signed) => callback(null, { roster: signed.roster, authorities: [...signed.authorities] }),
        (error: unknown) => callback(refusal(error)),
      );
    },
    ReportEquivocation: (call, callback) => {
      const { first, second } = call.request;
      if (registry.equivocation === undefined)
        return callback(
          refusal(
            new TesseraError(
              'NO_EQUIVOCATION_JUDGE',
              'failed_precondition',
              'this Membership service takes no evidence: report to the registry',
            ),
          ),
        );
      if (first == null || second == null)
        return callback(
          refusal(new TesseraError('MALFORMED_EVIDENCE', 'invalid', 'evidence is two signed block headers')),
        );
      registry.equivocation.report(first, second).then(
        (verdict) => callback(null, { ...verdict }),
        (error: unknown) => callback(refusal(error)),
      );
    },
  };
}
