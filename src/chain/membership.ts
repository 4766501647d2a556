import { credentials as grpcCredentials, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { tessera } from '../proto/services.ts';
import type { LookupMembersReply__Output } from '../proto/tessera/v1/LookupMembersReply.ts';
import type { Member__Output } from '../proto/tessera/v1/Member.ts';
import type { MembershipClient } from '../proto/tessera/v1/Membership.ts';
import { hexToBytes } from '@noble/hashes/utils.js';
import { addressOf } from '../crypto/keys.ts';
import type { GetRosterReply__Output } from '../proto/tessera/v1/GetRosterReply.ts';
import type { ReportEquivocationReply__Output } from '../proto/tessera/v1/ReportEquivocationReply.ts';
import type { SignedRecord } from '../protocol/record.ts';

/** A registered member as the registry's admission records hold it. */
export interface Member {
  readonly nodeId: string;
  readonly role: string;
  readonly modelId: string;
  /** The span of the model's shards [shardIndex, shardEnd) a compute node holds, as it registered. */
  readonly shardIndex: number;
  readonly shardEnd: number;
  /** Hex SEC1 public key the member signs its shares with. */
  readonly shareKey: string;
  /** Every share key it ever registered, `shareKey` first: what statements in old blocks may be signed with. */
  readonly shareKeys: readonly string[];
  readonly endpoint: string;
  readonly tls: boolean;
  readonly status: 'live' | 'evicted';
  readonly lastSeenMs: number;
}

/** The address of the member's share key: what its statements' signatures must recover. '' for a key that is not a point. */
export function shareKeyAddress(member: Member): string {
  return keyAddress(member.shareKey);
}

/** The addresses of every share key the member ever registered: what a statement in an old block may recover. */
export function shareKeyAddresses(member: Member): Set<string> {
  return new Set(member.shareKeys.map(keyAddress).filter((a) => a !== ''));
}

function keyAddress(key: string): string {
  try {
    return addressOf(hexToBytes(key));
  } catch {
    return '';
  }
}

/** Who is registered: what a daemon asks before it trusts a share's signer or a block's producer. */
export interface Membership {
  /** The members among `nodeIds`; ids the registry does not know are absent. */
  lookup(nodeIds: readonly string[]): Promise<Map<string, Member>>;
  /** Every live daemon. */
  liveDaemons(): Promise<Member[]>;
  /** The registry's signed roster of `epoch` (placed on its clock with the chain's slot and epoch lengths), and whose roster signatures count. */
  roster(epoch: number, clock: RosterClock): Promise<SignedRoster>;
  /** Hands the registry two headers one producer signed for one slot. */
  reportEquivocation(first: SignedRecord, second: SignedRecord): Promise<EquivocationVerdict>;
  close(): void;
}

export interface RosterClock {
  readonly blockIntervalMs: number;
  readonly epochSlots: number;
}

export interface SignedRoster {
  readonly roster: SignedRecord;
  /** The addresses whose roster signatures a daemon accepts. */
  readonly authorities: readonly string[];
}

export interface EquivocationVerdict {
  readonly producer: string;
  readonly slot: number;
  readonly evidenceHash: Buffer;
  /** Decimal: the stake taken. */
  readonly slashed: string;
}

export interface RegistryMembershipOptions {
  /** How long an answer is reused. A member evicted meanwhile is still trusted for this long. Default 2 s. */
  readonly ttlMs?: number;
  readonly deadlineMs?: number;
  readonly credentials?: ChannelCredentials;
}

function memberFromWire(m: Member__Output): Member {
  return {
    nodeId: m.nodeId,
    role: m.role,
    modelId: m.modelId,
    shardIndex: m.shardIndex,
    // A registry from before spans answers no end: its members hold one shard.
    shardEnd: m.shardEnd === 0 ? m.shardIndex + 1 : m.shardEnd,
    shareKey: m.shareKey,
    shareKeys: m.shareKeys.length === 0 ? [m.shareKey] : m.shareKeys,
    endpoint: m.endpoint,
    tls: m.tls,
    status: m.status === 'MEMBER_LIVE' ? 'live' : 'evicted',
    lastSeenMs: m.lastSeenMs,
  };
}

/**
 * Membership from a registry's Membership service, with answers cached for a short while: a batch
 * of shares from a handful of nodes costs one lookup per TTL, not one per batch. Unknown ids are not
 * cached, so a node that just registered is recognized on its first share.
 */
export class RegistryMembership implements Membership {
  readonly #grpc: MembershipClient;
  readonly #ttlMs: number;
  readonly #deadlineMs: number;
  readonly #members = new Map<string, { member: Member; atMs: number }>();
  #daemons?: { members: Member[]; atMs: number };

  constructor(
    readonly endpoint: string,
    options: RegistryMembershipOptions = {},
  ) {
    this.#ttlMs = options.ttlMs ?? 2_000;
    this.#deadlineMs = options.deadlineMs ?? 5_000;
    this.#grpc = new tessera.v1.Membership(endpoint, options.credentials ?? grpcCredentials.createInsecure());
  }

  async lookup(nodeIds: readonly string[]): Promise<Map<string, Member>> {
    const now = Date.now();
    const found = new Map<string, Member>();
    const missing: string[] = [];
    for (const id of new Set(nodeIds)) {
      const cached = this.#members.get(id);
      if (cached !== undefined && now - cached.atMs < this.#ttlMs) found.set(id, cached.member);
      else missing.push(id);
    }
    if (missing.length > 0) {
      for (const member of await this.#ask(missing, '')) {
        this.#members.set(member.nodeId, { member, atMs: now });
        if (missing.includes(member.nodeId)) found.set(member.nodeId, member);
      }
    }
    return found;
  }

  async liveDaemons(): Promise<Member[]> {
    const now = Date.now();
    if (this.#daemons === undefined || now - this.#daemons.atMs >= this.#ttlMs) {
      const members = (await this.#ask([], 'daemon')).filter((m) => m.role === 'daemon' && m.status === 'live');
      this.#daemons = { members, atMs: now };
    }
    return this.#daemons.members;
  }

  roster(epoch: number, clock: RosterClock): Promise<SignedRoster> {
    return new Promise((resolve, reject) => {
      this.#grpc.getRoster(
        { epoch, blockIntervalMs: clock.blockIntervalMs, epochSlots: clock.epochSlots },
        { deadline: Date.now() + this.#deadlineMs },
        (error: ServiceError | null, reply?: GetRosterReply__Output) => {
          if (error) return reject(error);
          if (reply!.roster == null) return reject(new Error(`the registry answered no roster for epoch ${epoch}`));
          resolve({
            roster: { payload: reply!.roster.payload, signature: reply!.roster.signature },
            authorities: reply!.authorities,
          });
        },
      );
    });
  }

  reportEquivocation(first: SignedRecord, second: SignedRecord): Promise<EquivocationVerdict> {
    return new Promise((resolve, reject) => {
      this.#grpc.reportEquivocation(
        { first, second },
        { deadline: Date.now() + this.#deadlineMs },
        (error: ServiceError | null, reply?: ReportEquivocationReply__Output) => {
          if (error) return reject(error);
          resolve({
            producer: reply!.producer,
            slot: Number(reply!.slot),
            evidenceHash: reply!.evidenceHash,
            slashed: reply!.slashed,
          });
        },
      );
    });
  }

  close(): void {
    this.#grpc.close();
  }

  #ask(nodeIds: string[], liveRole: string): Promise<Member[]> {
    return new Promise((resolve, reject) => {
      this.#grpc.lookupMembers(
        { nodeIds, liveRole },
        { deadline: Date.now() + this.#deadlineMs },
        (error: ServiceError | null, reply?: LookupMembersReply__Output) => {
          if (error) reject(error);
          else resolve(reply!.members.map(memberFromWire));
        },
      );
    });
  }
}
