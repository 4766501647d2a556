import { canonicalJson, parseCanonicalJson, type CanonicalValue } from '../crypto/canonical-json.ts';
import type { KeyPair } from '../crypto/keys.ts';
import { recoverSigner, sign } from '../crypto/signature.ts';

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
  readonly workloads: readonly string[];
  readonly clientVersion: string;
}

export interface Load {
  readonly activeSessions: number;
  readonly maxSessions: number;
  readonly computeUsPerToken: number;
}

/** What a node says of itself to a registry; signed by the key whose address is `nodeId`. */
export interface Announcement {
  readonly kind: AnnouncementKind;
  readonly nodeId: string;
  readonly role: Role;
  readonly modelId: string;
  readonly shardIndex: number;
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

export interface SignedAnnouncement {
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

export function signAnnouncement(key: KeyPair, announcement: Announcement): SignedAnnouncement {
  const payload = canonicalJson(announcement as unknown as CanonicalValue);
  return { payload, signature: sign(key, ANNOUNCEMENT_DOMAIN, payload) };
}

export class AnnouncementError extends Error {
  /** `signature`: the payload is well formed but not signed by its nodeId's key. */
  constructor(message: string, readonly reason: 'malformed' | 'signature' = 'malformed') {
    super(message);
  }
}

const isHex = (value: unknown, bytes: number) => typeof value === 'string' && new RegExp(`^[0-9a-f]{${bytes * 2}}$`).test(value);
const isCount = (value: unknown) => Number.isSafeInteger(value) && (value as number) >= 0;

/**
 * Parses a signed announcement and recovers its signer. Shape errors and a signer other than
 * `nodeId` are AnnouncementErrors; freshness (timestamp, nonce) is the registry's to check.
 */
export function openAnnouncement(signed: SignedAnnouncement): Announcement {
  let value: CanonicalValue;
  try {
    value = parseCanonicalJson(signed.payload);
  } catch (error) {
    throw new AnnouncementError(`announcement payload is not canonical JSON: ${(error as Error).message}`);
  }
  const a = value as unknown as Announcement;
  const problems: string[] = [];
  if (!['register', 'heartbeat', 'unregister'].includes(a.kind)) problems.push(`kind "${String(a.kind)}"`);
  if (typeof a.nodeId !== 'string' || !/^0x[0-9a-f]{40}$/.test(a.nodeId)) problems.push('nodeId is not a lowercase 0x address');
  if (!['node', 'daemon', 'verifier'].includes(a.role)) problems.push(`role "${String(a.role)}"`);
  if (typeof a.modelId !== 'string') problems.push('modelId');
  if (!isCount(a.shardIndex)) problems.push('shardIndex');
  if (!isHex(a.shareKey, 65) && !isHex(a.shareKey, 33)) problems.push('shareKey is not a hex public key');
  if (typeof a.endpoint !== 'string' || !/^[^\s:]+:\d{1,5}$/.test(a.endpoint)) problems.push('endpoint is not HOST:PORT');
  if (typeof a.tls !== 'boolean') problems.push('tls');
  if (typeof a.capabilities !== 'object' || a.capabilities === null) problems.push('capabilities');
  if (typeof a.load !== 'object' || a.load === null || !isCount(a.load.activeSessions) || !isCount(a.load.maxSessions) || !isCount(a.load.computeUsPerToken)) problems.push('load');
  if (!isCount(a.pricePer1kTokens)) problems.push('pricePer1kTokens');
  if (!isCount(a.timestampMs)) problems.push('timestampMs');
  if (!isHex(a.nonce, 16)) problems.push('nonce is not 16 hex bytes');
  if (problems.length > 0) throw new AnnouncementError(`malformed announcement: ${problems.join(', ')}`);
  const signer = recoverSigner(ANNOUNCEMENT_DOMAIN, signed.payload, signed.signature);
  if (signer === undefined) throw new AnnouncementError('announcement signature is malformed', 'signature');
  if (signer !== a.nodeId) throw new AnnouncementError(`announcement is signed by ${signer}, not by node ${a.nodeId}`, 'signature');
  return a;
}
