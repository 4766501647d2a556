import { status } from '@grpc/grpc-js';
import { TesseraError } from '../core/errors.ts';
import { kindOfStatus } from '../rpc/status.ts';
import type { Manifest } from '../model/manifest.ts';
import { spanProblem } from '../model/shards/span.ts';
import {
  openAnnouncement,
  shardEndOf,
  type Announcement,
  type AnnouncementKind,
  type SignedAnnouncement,
} from './announcement.ts';
import type { ClusterConfig } from './cluster-config.ts';
import type { Role } from './announcement.ts';
import { SignedPayloadError } from './signed-payload.ts';
import type { NodeRecord, RegistryStore, StoredManifest } from './store.ts';
import type { StakeInfo } from './settlement-backend.ts';
import type { StakeStanding } from './stake-gate.ts';

/**
 * A refused signed call (an announcement, an operator request, an audit request): `reason` is the
 * machine-readable code callers match, `status` the gRPC status it travels as.
 */
export class AdmissionError extends TesseraError {
  constructor(
    readonly status: status,
    message: string,
    reason: string,
  ) {
    super(reason, kindOfStatus(status), message);
  }
}

export interface AdmissionContext {
  readonly store: RegistryStore;
  readonly config: ClusterConfig;
  readonly served: ReadonlyMap<string, StoredManifest & { readonly manifest: Manifest; readonly shards: number }>;
  /** Why a node may not register or heartbeat (it was slashed), or undefined. */
  readonly banReason?: (nodeId: string) => string | undefined;
  /** Takes the signer's per-key rate token (throws RATE_LIMITED); runs once the signature is checked, before anything is written. */
  readonly takeKey?: (nodeId: string) => void;
  /** Where bonds are read (src/registry/stake-gate.ts); none: the registry keeps no stakes and admits any. */
  readonly stakeGate?: MinimumStake;
}

/** Why a member's bond is below its role's minimum, or undefined when it is not. */
export interface MinimumStake {
  belowMinimum(nodeId: string, role: Role): Promise<string | undefined>;
  /** belowMinimum and the stake read for it (src/registry/stake-gate.ts). */
  standing(nodeId: string, role: Role): Promise<StakeStanding>;
}

/** How long a node may stay silent before discovery stops listing it. */
export function silenceLimitMs(config: ClusterConfig): number {
  return config.heartbeat.intervalMs * config.heartbeat.evictAfterMissed;
}

/**
 * Checks a signed Register/Heartbeat/Unregister (docs/ARCHITECTURE.md §5) and applies it. Every check
 * runs before anything is written, and the nonce is recorded in the same transaction as the change,
 * so a refused announcement leaves the store exactly as it was. Stake is not checked here: see
 * admitStaked.
 */
export function admit(
  context: AdmissionContext,
  expected: AnnouncementKind,
  signed: SignedAnnouncement,
  nowMs: number,
): Announcement {
  const a = checkAnnouncement(context, expected, signed, nowMs);
  apply(context, a, nowMs);
  return a;
}

/**
 * admit, and a bond of at least the role's minimum at Register and at every Heartbeat (issue 14:
 * stake is checked where membership is granted and kept, not only where work is handed out). A
 * heartbeat below the minimum (slashed, or never bonded) is refused STAKE_BELOW_MINIMUM and evicts
 * the member, so it drops out of the daemon set and discovery at once; it may register again once
 * bonded. An unstaking member keeps its membership (Discover gives it no new work) until it
 * withdraws. Unregister is never refused for stake: leaving must stay possible.
 */
export async function admitStaked(
  context: AdmissionContext,
  expected: AnnouncementKind,
  signed: SignedAnnouncement,
  nowMs: number,
): Promise<{ readonly announcement: Announcement; readonly stake?: StakeInfo }> {
  const a = checkAnnouncement(context, expected, signed, nowMs);
  let stake: StakeInfo | undefined;
  if (expected !== 'unregister' && context.stakeGate !== undefined) {
    let refusal: string | undefined;
    try {
      ({ refusal, stake } = await context.stakeGate.standing(a.nodeId, a.role));
    } catch (error) {
      throw new AdmissionError(
        status.UNAVAILABLE,
        `stakes cannot be read: ${(error as Error).message}`,
        'STAKES_UNAVAILABLE',
      );
    }
    if (refusal !== undefined) {
      if (expected === 'heartbeat') context.store.evictNode(a.nodeId);
      throw new AdmissionError(
        status.FAILED_PRECONDITION,
        expected === 'heartbeat' ? `${refusal}; evicted: register again once bonded` : refusal,
        'STAKE_BELOW_MINIMUM',
      );
    }
    // A copy of this announcement may have been admitted while the stake was read.
    checkNonce(context, a, 'announcement');
  }
  apply(context, a, nowMs);
  // The stake read, for the reply: read once per call (on the EVM back end each read is a round trip).
  return stake === undefined ? { announcement: a } : { announcement: a, stake };
}

function apply(context: AdmissionContext, a: Announcement, nowMs: number): void {
  const { store } = context;
  store.transaction(() => {
    rememberNonce(context, a, nowMs);
    if (a.kind === 'register') store.putNode(a, nowMs);
    else if (a.kind === 'heartbeat') store.touchNode(a, nowMs);
    else store.removeNode(a.nodeId);
  });
}

function checkAnnouncement(
  context: AdmissionContext,
  expected: AnnouncementKind,
  signed: SignedAnnouncement,
  nowMs: number,
): Announcement {
  const { store, config } = context;
  const a = openOrRefuse(() => openAnnouncement(signed));
  context.takeKey?.(a.nodeId);
  if (a.kind !== expected)
    throw new AdmissionError(
      status.INVALID_ARGUMENT,
      `a "${a.kind}" announcement was sent to ${expected}; sign one of kind "${expected}"`,
      'WRONG_KIND',
    );
  const banned = expected === 'unregister' ? undefined : context.banReason?.(a.nodeId);
  if (banned !== undefined) throw new AdmissionError(status.PERMISSION_DENIED, banned, 'NODE_BANNED');
  checkTimestamp(context, a, nowMs, 'announcement');

  if (!a.tls && !isLoopback(a.endpoint)) {
    throw new AdmissionError(
      status.INVALID_ARGUMENT,
      `endpoint ${a.endpoint} is reachable beyond this machine, so it must be served over TLS (tls: true); advertise 127.0.0.1:PORT for a local cluster`,
      'TLS_REQUIRED',
    );
  }
  const existing = store.node(a.nodeId);
  if (expected === 'register') checkModel(context, a);
  else checkRegistered(config, a, existing);

  checkNonce(context, a, 'announcement');
  return a;
}

/** What every signed call to the registry carries so that it is accepted once, and only while fresh. */
export interface OneTime {
  readonly nodeId: string;
  readonly timestampMs: number;
  /** 16 random bytes, hex. */
  readonly nonce: string;
}

type Freshness = Pick<AdmissionContext, 'store' | 'config'>;

/** Opens a signed payload; a bad one is refused UNAUTHENTICATED (not its node's signature) or INVALID_ARGUMENT. */
export function openOrRefuse<T>(open: () => T): T {
  try {
    return open();
  } catch (error) {
    if (!(error instanceof SignedPayloadError)) throw error;
    throw error.reason === 'signature'
      ? new AdmissionError(status.UNAUTHENTICATED, error.message, 'BAD_SIGNATURE')
      : new AdmissionError(status.INVALID_ARGUMENT, error.message, 'MALFORMED_REQUEST');
  }
}

/**
 * The replay rule, shared by every signed call to the registry:
 *
 * - A call is accepted only while its timestamp t lies within now ± maxClockSkewMs: one dated
 *   further ahead is refused TIMESTAMP_IN_FUTURE, one further behind TIMESTAMP_STALE.
 * - Its nonce is remembered until t falls behind now − maxClockSkewMs; from then on the timestamp
 *   check alone refuses a replay, so the nonce may go.
 * - The cache is held to nonceCacheMax by dropping nonces of the key that holds the most, and that
 *   key's own floor rises to the newest timestamp dropped: calls by that key dated at or before its
 *   floor are refused TIMESTAMP_STALE, as one of them could be a replay. A floor is per key and only
 *   ever holds a time that key signed, so a key that floods the cache (even with calls dated up to
 *   the skew ahead) pushes out only its own calls: no other key's floor moves, and an honest key,
 *   whose next call is dated after its earlier ones, is never refused by its own floor either.
 */
export function checkTimestamp({ store, config }: Freshness, signed: OneTime, nowMs: number, what: string): void {
  const skewMs = signed.timestampMs - nowMs;
  const limit = `limit ${Math.round(config.maxClockSkewMs / 1000)} s`;
  if (skewMs > config.maxClockSkewMs) {
    throw new AdmissionError(
      status.INVALID_ARGUMENT,
      `${what} dated ${Math.round(skewMs / 1000)} s ahead of registry time, ${limit} (the signer's clock is ahead; synchronize it, e.g. with NTP)`,
      'TIMESTAMP_IN_FUTURE',
    );
  }
  if (-skewMs > config.maxClockSkewMs) {
    throw new AdmissionError(
      status.INVALID_ARGUMENT,
      `stale timestamp: ${what} dated ${Math.round(-skewMs / 1000)} s behind registry time, ${limit} (the signer's clock is behind; synchronize it, e.g. with NTP)`,
      'TIMESTAMP_STALE',
    );
  }
  const floorMs = store.nonceFloorMs(signed.nodeId);
  if (signed.timestampMs <= floorMs) {
    throw new AdmissionError(
      status.INVALID_ARGUMENT,
      `stale timestamp: the registry no longer remembers ${signed.nodeId}'s nonces from before ${new Date(floorMs).toISOString()}; sign a fresh ${what}`,
      'TIMESTAMP_STALE',
    );
  }
}

/** A nonce the registry has seen is a replay. */
export function checkNonce({ store }: Freshness, signed: OneTime, what: string): void {
  if (store.hasNonce(signed.nonce)) {
    throw new AdmissionError(
      status.ALREADY_EXISTS,
      `replayed ${what}: nonce ${signed.nonce} was already used; each ${what} is accepted once, so sign a new one`,
      'NONCE_REPLAYED',
    );
  }
}

/** Records the nonce (see checkTimestamp for the rule); call inside the transaction that applies the call. */
export function rememberNonce({ store, config }: Freshness, signed: OneTime, nowMs: number): void {
  store.rememberNonce(
    signed.nonce,
    signed.nodeId,
    signed.timestampMs,
    nowMs - config.maxClockSkewMs,
    config.nonceCacheMax,
  );
}

/** Announced endpoints are HOST:PORT with no colon in HOST (openAnnouncement checks it). */
function isLoopback(endpoint: string): boolean {
  const host = endpoint.slice(0, endpoint.lastIndexOf(':'));
  return host === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function checkModel({ served }: AdmissionContext, a: Announcement): void {
  // Daemons and verifiers serve no shard; they may name no model.
  if (a.role !== 'node' && a.modelId === '') return;
  const model = served.get(a.modelId);
  if (model === undefined) {
    throw new AdmissionError(
      status.INVALID_ARGUMENT,
      `unknown model "${a.modelId}": this registry serves ${[...served.keys()].map((id) => `"${id}"`).join(', ')}`,
      'UNKNOWN_MODEL',
    );
  }
  // A compute node registers the span it holds: one the manifest has, or nothing of it is listed.
  const problem =
    a.role === 'node' ? spanProblem(model.manifest, { start: a.shardIndex, end: shardEndOf(a) }) : undefined;
  if (problem !== undefined) {
    throw new AdmissionError(
      status.INVALID_ARGUMENT,
      `${problem} (model "${a.modelId}" has shards 0 to ${model.shards - 1}; register the span the node holds)`,
      'INVALID_SPAN',
    );
  }
}

function checkRegistered(config: ClusterConfig, a: Announcement, existing: NodeRecord | undefined): void {
  if (existing === undefined)
    throw new AdmissionError(
      status.NOT_FOUND,
      `node ${a.nodeId} is not registered here; register first`,
      'NOT_REGISTERED',
    );
  if (a.kind === 'unregister') return;
  if (existing.status === 'evicted') {
    throw new AdmissionError(
      status.NOT_FOUND,
      `node ${a.nodeId} was evicted after ${config.heartbeat.evictAfterMissed} missed heartbeats (every ${config.heartbeat.intervalMs} ms); register again`,
      'NODE_EVICTED',
    );
  }
  const announced = { ...a, shardEnd: shardEndOf(a) };
  const changed = (['role', 'modelId', 'shardIndex', 'shardEnd', 'endpoint', 'tls', 'shareKey'] as const).filter(
    (field) => existing[field] !== announced[field],
  );
  if (changed.length > 0) {
    throw new AdmissionError(
      status.FAILED_PRECONDITION,
      `heartbeat changes ${changed.map((f) => `${f} (registered ${JSON.stringify(existing[f])}, now ${JSON.stringify(announced[f])})`).join(', ')}; register again to change them`,
      'REGISTRATION_CHANGED',
    );
  }
}
