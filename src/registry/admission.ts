import { status } from '@grpc/grpc-js';
import { openAnnouncement, type Announcement, type AnnouncementKind, type SignedAnnouncement } from './announcement.ts';
import type { ClusterConfig } from './cluster-config.ts';
import { SignedPayloadError } from './signed-payload.ts';
import type { NodeRecord, RegistryStore, StoredManifest } from './store.ts';

/** A refused signed call (an announcement, an operator request): the gRPC status and a message that says what to do. */
export class AdmissionError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

export interface AdmissionContext {
  readonly store: RegistryStore;
  readonly config: ClusterConfig;
  readonly served: ReadonlyMap<string, StoredManifest & { readonly shards: number }>;
  /** Why a node may not register or heartbeat (it was slashed), or undefined. */
  readonly banReason?: (nodeId: string) => string | undefined;
}

/** How long a node may stay silent before discovery stops listing it. */
export function silenceLimitMs(config: ClusterConfig): number {
  return config.heartbeat.intervalMs * config.heartbeat.evictAfterMissed;
}

/**
 * Checks a signed Register/Heartbeat/Unregister (ARCHITECTURE.md §5) and applies it. Every check
 * runs before anything is written, and the nonce is recorded in the same transaction as the change,
 * so a refused announcement leaves the store exactly as it was.
 */
export function admit(
  context: AdmissionContext,
  expected: AnnouncementKind,
  signed: SignedAnnouncement,
  nowMs: number,
): Announcement {
  const { store, config } = context;
  const a = openOrRefuse(() => openAnnouncement(signed));
  if (a.kind !== expected)
    throw new AdmissionError(
      status.INVALID_ARGUMENT,
      `a "${a.kind}" announcement was sent to ${expected}; sign one of kind "${expected}"`,
    );
  const banned = expected === 'unregister' ? undefined : context.banReason?.(a.nodeId);
  if (banned !== undefined) throw new AdmissionError(status.PERMISSION_DENIED, banned);
  checkTimestamp(context, a, nowMs, 'announcement');

  if (!a.tls && !isLoopback(a.endpoint)) {
    throw new AdmissionError(
      status.INVALID_ARGUMENT,
      `endpoint ${a.endpoint} is reachable beyond this machine, so it must be served over TLS (tls: true); advertise 127.0.0.1:PORT for a local cluster`,
    );
  }
  const existing = store.node(a.nodeId);
  if (expected === 'register') checkModel(context, a);
  else checkRegistered(config, a, existing);

  checkNonce(context, a, 'announcement');
  store.transaction(() => {
    rememberNonce(context, a, nowMs);
    if (expected === 'register') store.putNode(a, nowMs);
    else if (expected === 'heartbeat') store.touchNode(a, nowMs);
    else store.removeNode(a.nodeId);
  });
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
    throw new AdmissionError(
      error.reason === 'signature' ? status.UNAUTHENTICATED : status.INVALID_ARGUMENT,
      error.message,
    );
  }
}

/** The timestamp is within the clock-skew bound and after the nonce floor (older nonces are forgotten, so could be replayed). */
export function checkTimestamp({ store, config }: Freshness, signed: OneTime, nowMs: number, what: string): void {
  const skewMs = signed.timestampMs - nowMs;
  if (Math.abs(skewMs) > config.maxClockSkewMs) {
    throw new AdmissionError(
      status.INVALID_ARGUMENT,
      `stale timestamp: ${Math.round(Math.abs(skewMs) / 1000)} s from registry time, limit ${Math.round(config.maxClockSkewMs / 1000)} s ` +
        `(the node's clock is ${skewMs < 0 ? 'behind' : 'ahead'}; synchronize it, e.g. with NTP)`,
    );
  }
  if (signed.timestampMs <= store.nonceFloorMs()) {
    throw new AdmissionError(
      status.INVALID_ARGUMENT,
      `stale timestamp: the registry no longer remembers nonces from before ${new Date(store.nonceFloorMs()).toISOString()}; sign a fresh ${what}`,
    );
  }
}

/** A nonce the registry has seen is a replay. */
export function checkNonce({ store }: Freshness, signed: OneTime, what: string): void {
  if (store.hasNonce(signed.nonce)) {
    throw new AdmissionError(
      status.ALREADY_EXISTS,
      `replayed ${what}: nonce ${signed.nonce} was already used by ${signed.nodeId}; each ${what} is accepted once, so sign a new one`,
    );
  }
}

/** Records the nonce in the one nonce cache all signed calls share; call inside the transaction that applies the call. */
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
    );
  }
  if (a.role === 'node' && a.shardIndex >= model.shards) {
    throw new AdmissionError(
      status.INVALID_ARGUMENT,
      `unknown shard ${a.shardIndex} of model "${a.modelId}": it has shards 0 to ${model.shards - 1}`,
    );
  }
}

function checkRegistered(config: ClusterConfig, a: Announcement, existing: NodeRecord | undefined): void {
  if (existing === undefined)
    throw new AdmissionError(status.NOT_FOUND, `node ${a.nodeId} is not registered here; register first`);
  if (a.kind === 'unregister') return;
  if (existing.status === 'evicted') {
    throw new AdmissionError(
      status.NOT_FOUND,
      `node ${a.nodeId} was evicted after ${config.heartbeat.evictAfterMissed} missed heartbeats (every ${config.heartbeat.intervalMs} ms); register again`,
    );
  }
  const changed = (['role', 'modelId', 'shardIndex', 'endpoint', 'tls', 'shareKey'] as const).filter(
    (field) => existing[field] !== a[field],
  );
  if (changed.length > 0) {
    throw new AdmissionError(
      status.FAILED_PRECONDITION,
      `heartbeat changes ${changed.map((f) => `${f} (registered ${JSON.stringify(existing[f])}, now ${JSON.stringify(a[f])})`).join(', ')}; register again to change them`,
    );
  }
}
