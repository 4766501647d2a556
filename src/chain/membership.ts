import { credentials as grpcCredentials, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { tessera } from '../proto/services.ts';
import type { LookupMembersReply__Output } from '../proto/tessera/v1/LookupMembersReply.ts';
import type { Member__Output } from '../proto/tessera/v1/Member.ts';
import type { MembershipClient } from '../proto/tessera/v1/Membership.ts';
import { hexToBytes } from '@noble/hashes/utils.js';
import { addressOf } from '../crypto/keys.ts';

/** A registered member as the registry's admission records hold it. */
export interface Member {
  readonly nodeId: string;
  readonly role: string;
  readonly modelId: string;
  readonly shardIndex: number;
  /** Hex SEC1 public key the member signs its shares with. */
  readonly shareKey: string;
  readonly endpoint: string;
  readonly tls: boolean;
  readonly status: 'live' | 'evicted';
  readonly lastSeenMs: number;
}

/** The address of the member's share key: what its statements' signatures must recover. '' for a key that is not a point. */
export function shareKeyAddress(member: Member): string {
  try {
    return addressOf(hexToBytes(member.shareKey));
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
  close(): void;
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
    shareKey: m.shareKey,
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
