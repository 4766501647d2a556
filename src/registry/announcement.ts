import { canonicalJson, type CanonicalValue } from '../crypto/canonical-json.ts';
import type { KeyPair } from '../crypto/keys.ts';
import { sign } from '../crypto/signature.ts';
import { isCount, isHex, openSignedPayload, type SignedPayload } from './signed-payload.ts';

export const ANNOUNCEMENT_DOMAIN = 'tessera/v1/announcement';

export type AnnouncementKind = 'register' | 'heartbeat' | 'unregister';
export type Role = 'node' | 'daemon' | 'verifier';

/** Coarse, signed self-description: bands, not serial numbers or fingerprints. */
export interface Capabilities {
  readonly tier: string;
  readonly cpuCores: number;
  readonly memoryGiB: number;
  readonly gpu: string;
  readonly region: string;
  /** The band of the round trip to the registry (src/node/capability.ts); absent from older nodes. */
  readonly network?: string;
  readonly workloads: readonly string[];
  readonly clientVersion: string;
}

/**
 * What a node is doing (src/node/node-state.ts): READY serves and holds no session, EXECUTING holds
 * one or more, IDLE has held none for a while, UNSTAKING takes no new session during its stake's
 * cooldown.
 */
export const NODE_STATES = ['READY', 'EXECUTING', 'IDLE', 'UNSTAKING'] as const;
export type NodeStateName = (typeof NODE_STATES)[number];

export function isNodeState(value: unknown): value is NodeStateName {
  return typeof value === 'string' && (NODE_STATES as readonly string[]).includes(value);
}

export interface Load {
  readonly activeSessions: number;
  readonly maxSessions: number;
  readonly computeUsPerToken: number;
  /** Absent from roles other than compute nodes, and from nodes older than the states. */
  readonly state?: NodeStateName;
}

/** What a node says of itself to a registry; signed by the key whose address is `nodeId`. */
export interface Announcement {
  readonly kind: AnnouncementKind;
  readonly nodeId: string;
  readonly role: Role;
  readonly modelId: string;
  /** A compute node holds shards [shardIndex, shardEnd) of the model and serves any span of them. */
  readonly shardIndex: number;
  /** Absent from daemons, verifiers and nodes that predate spans: they hold shardIndex alone. */
  readonly shardEnd?: number;
  /** Hex public key the node signs its compute shares with. */
  readonly shareKey: string;
  readonly endpoint: string;
  readonly tls: boolean;
  readonly capabilities: Capabilities;
  readonly load: Load;
  readonly pricePer1kTokens: number;
  readonly timestampMs: number;
  /** 16 random bytes, hex: each announcement is accepted once. */
  readonly nonce: string;
}

/** The end of the span an announcement holds: absent, its one shard's. */
export const shardEndOf = (a: Pick<Announcement, 'shardIndex' | 'shardEnd'>): number => a.shardEnd ?? a.shardIndex + 1;

export type SignedAnnouncement = SignedPayload;

export function signAnnouncement(key: KeyPair, announcement: Announcement): SignedAnnouncement {
  const payload = canonicalJson(announcement as unknown as CanonicalValue);
  return { payload, signature: sign(key, ANNOUNCEMENT_DOMAIN, payload) };
}

/**
 * Parses a signed announcement and recovers its signer. Shape errors and a signer other than
 * `nodeId` are SignedPayloadErrors; freshness (timestamp, nonce) is the registry's to check.
 */
export function openAnnouncement(signed: SignedAnnouncement): Announcement {
  return openSignedPayload<Announcement>('announcement', ANNOUNCEMENT_DOMAIN, signed, (a) => {
    const problems: string[] = [];
    const load = a.load as Record<string, unknown> | null;
    if (!['register', 'heartbeat', 'unregister'].includes(a.kind as string)) problems.push(`kind "${String(a.kind)}"`);
    if (!['node', 'daemon', 'verifier'].includes(a.role as string)) problems.push(`role "${String(a.role)}"`);
    if (typeof a.modelId !== 'string') problems.push('modelId');
    if (!isCount(a.shardIndex)) problems.push('shardIndex');
    // Whether the span is one of the model's is the registry's to say (it knows the manifest).
    if (a.shardEnd !== undefined && !isCount(a.shardEnd)) problems.push('shardEnd');
    if (!isHex(a.shareKey, 65) && !isHex(a.shareKey, 33)) problems.push('shareKey is not a hex public key');
    if (typeof a.endpoint !== 'string' || !/^[^\s:]+:\d{1,5}$/.test(a.endpoint))
      problems.push('endpoint is not HOST:PORT');
    if (typeof a.tls !== 'boolean') problems.push('tls');
    if (typeof a.capabilities !== 'object' || a.capabilities === null) problems.push('capabilities');
    if (
      typeof load !== 'object' ||
      load === null ||
      !isCount(load.activeSessions) ||
      !isCount(load.maxSessions) ||
      !isCount(load.computeUsPerToken) ||
      (load.state !== undefined && !isNodeState(load.state))
    )
      problems.push('load');
    if (!isCount(a.pricePer1kTokens)) problems.push('pricePer1kTokens');
    if (!isCount(a.timestampMs)) problems.push('timestampMs');
    if (!isHex(a.nonce, 16)) problems.push('nonce is not 16 hex bytes');
    return problems;
  });
}
