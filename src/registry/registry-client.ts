import { randomBytes } from 'node:crypto';
import { credentials as grpcCredentials, status, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import type { KeyPair } from '../crypto/keys.ts';
import { parseManifest, type Manifest } from '../model/manifest.ts';
import { tessera } from '../proto/services.ts';
import type { SignedPayload } from './signed-payload.ts';
import type { DiscoverReply__Output } from '../proto/tessera/v1/DiscoverReply.ts';
import type { ExchangePeersReply__Output } from '../proto/tessera/v1/ExchangePeersReply.ts';
import type { HeartbeatReply__Output } from '../proto/tessera/v1/HeartbeatReply.ts';
import type { ListModelsReply__Output } from '../proto/tessera/v1/ListModelsReply.ts';
import type { ManifestReply__Output } from '../proto/tessera/v1/ManifestReply.ts';
import type { OwedAudit__Output } from '../proto/tessera/v1/OwedAudit.ts';
import type { RegisterReply__Output } from '../proto/tessera/v1/RegisterReply.ts';
import type { RegistryClient as GrpcRegistryClient } from '../proto/tessera/v1/Registry.ts';
import type { AccountReply__Output } from '../proto/tessera/v1/AccountReply.ts';
import type { ClaimReply__Output } from '../proto/tessera/v1/ClaimReply.ts';
import type { RequestUnstakeReply__Output } from '../proto/tessera/v1/RequestUnstakeReply.ts';
import type { StakeReply__Output } from '../proto/tessera/v1/StakeReply.ts';
import type { GrantReply__Output } from '../proto/tessera/v1/GrantReply.ts';
import { signGrant } from './grant.ts';
import type { GrantAmounts } from './settlement-backend.ts';
import type { WithdrawStakeReply__Output } from '../proto/tessera/v1/WithdrawStakeReply.ts';
import { signAnnouncement, type Announcement, type AnnouncementKind } from './announcement.ts';
import { signOperatorRequest, type OperatorAction } from './operator-request.ts';
import { UnaryCalls } from '../rpc/unary-calls.ts';

/** What a role says of itself; the client adds kind, nodeId (the key's address), timestamp and nonce. */
export type AnnouncementBody = Omit<Announcement, 'kind' | 'nodeId' | 'timestampMs' | 'nonce'>;

/** A live node as Discover reports it. */
export interface DiscoveredNode {
  readonly nodeId: string;
  readonly endpoint: string;
  /** The node holds shards [shardIndex, shardEnd) and serves any span of them as a hop. */
  readonly shardIndex: number;
  readonly shardEnd: number;
  readonly activeSessions: number;
  readonly maxSessions: number;
  readonly computeUsPerToken: number;
  readonly pricePer1kTokens: number;
  readonly lastSeenMs: number;
  readonly tls: boolean;
  /** READY, EXECUTING, IDLE or UNSTAKING ('' from a registry older than the states). */
  readonly state?: string;
  /** Set while UNSTAKING: the instant the stake may be withdrawn. */
  readonly unstakingUntilMs?: number;
  /** The speed tier the node measured on its own layers. */
  readonly tier?: string;
  /** The band of the node's measured round trip to its registry. */
  readonly network?: string;
  /** False only in a listing that includes nodes getting no new work (status). */
  readonly eligible?: boolean;
}

export interface ModelListing {
  readonly modelId: string;
  readonly architecture: string;
  readonly shards: number;
  readonly pricePer1kTokens: number;
}

export interface RegistryPeerInfo {
  readonly endpoint: string;
  readonly clusterId: string;
  readonly lastSeenMs: number;
  /** The registry's signed identity (src/registry/registry-identity.ts), when it has a key. */
  readonly identity?: SignedPayload;
}

/** Where a cluster keeps stakes and pays out, as the registry reports it. */
export type EscrowInfo =
  { readonly backend: 'ledger' } | { readonly backend: 'evm'; readonly rpcUrl: string; readonly contract: string };

/** An address's standing with the cluster's escrow. Amounts in the smallest unit. */
export interface Account {
  readonly address: string;
  readonly stake: bigint;
  /** Present while unstaking: no new work, and the stake may be withdrawn from this instant. */
  readonly unstakingUntilMs?: number;
  readonly claimable: bigint;
  readonly deposited: bigint;
  /** What it may still spend as a client: deposits less what posted and finalized settlements debit. */
  readonly balance: bigint;
  readonly escrow: EscrowInfo;
}

export interface RegistryClientOptions {
  /** Default: insecure (plaintext), as for a registry on loopback. */
  readonly credentials?: ChannelCredentials;
  /** Per-call deadline. Default 10 s. */
  readonly deadlineMs?: number;
}

/** Tokenizer GGUFs of large vocabularies exceed gRPC's default 4 MiB receive limit. */
export const REGISTRY_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/**
 * A typed, promise-returning client of one registry. Failed calls reject with the gRPC
 * ServiceError (`error.code` is a `status`, `error.details` the registry's message).
 */
export class RegistryClient {
  readonly endpoint: string;
  readonly #grpc: GrpcRegistryClient;
  readonly #calls: UnaryCalls;

  constructor(endpoint: string, options: RegistryClientOptions = {}) {
    this.endpoint = endpoint;
    this.#calls = new UnaryCalls(options.deadlineMs ?? 10_000);
    this.#grpc = new tessera.v1.Registry(endpoint, options.credentials ?? grpcCredentials.createInsecure(), {
      'grpc.max_receive_message_length': REGISTRY_MAX_MESSAGE_BYTES,
    });
  }

  /**
   * Admits the key's node; returns the heartbeat interval the registry expects, the cluster's audit
   * sampling rate and how long a node must keep the steps it may be audited on.
   */
  async register(
    key: KeyPair,
    body: AnnouncementBody,
  ): Promise<{
    heartbeatIntervalMs: number;
    registeredAtMs: number;
    auditSamplingRate: number;
    auditRetentionMs: number;
    unstakingUntilMs: number;
  }> {
    return this.#calls.call<RegisterReply__Output>((cb) =>
      this.#grpc.register(announce(key, 'register', body), this.#calls.options(), cb),
    );
  }

  /**
   * Reports liveness and load; a node hears back the audits it owes. NOT_FOUND means the registry
   * no longer lists the node: register again.
   */
  async heartbeat(
    key: KeyPair,
    body: AnnouncementBody,
  ): Promise<{ serverTimeMs: number; owedAudits: OwedAudit__Output[]; unstakingUntilMs: number }> {
    return this.#calls.call<HeartbeatReply__Output>((cb) =>
      this.#grpc.heartbeat(announce(key, 'heartbeat', body), this.#calls.options(), cb),
    );
  }

  async unregister(key: KeyPair, body: AnnouncementBody): Promise<void> {
    await this.#calls.call<unknown>((cb) =>
      this.#grpc.unregister(announce(key, 'unregister', body), this.#calls.options(), cb),
    );
  }

  /**
   * The model's manifest, its live nodes (each with the span it holds) and the cluster's audit sampling rate. Only
   * nodes that may get new work, unless `includeIneligible` (for status, never for routing).
   */
  async discover(
    modelId: string,
    options: { readonly includeIneligible?: boolean } = {},
  ): Promise<{ manifest: Manifest; manifestJson: string; nodes: DiscoveredNode[]; auditSamplingRate: number }> {
    const reply = await this.#calls.call<DiscoverReply__Output>((cb) =>
      this.#grpc.discover(
        { modelId, includeIneligible: options.includeIneligible ?? false },
        this.#calls.options(),
        cb,
      ),
    );
    const nodes = reply.nodes.map((n) => ({
      nodeId: n.nodeId,
      endpoint: n.endpoint,
      shardIndex: n.shardIndex,
      // A registry older than spans lists one shard a node, and no end.
      shardEnd: n.shardEnd > n.shardIndex ? n.shardEnd : n.shardIndex + 1,
      activeSessions: n.activeSessions,
      maxSessions: n.maxSessions,
      computeUsPerToken: n.computeUsPerToken,
      pricePer1kTokens: n.pricePer_1kTokens,
      lastSeenMs: n.lastSeenMs,
      tls: n.tls,
      state: n.state,
      ...(n.unstakingUntilMs > 0 ? { unstakingUntilMs: n.unstakingUntilMs } : {}),
      tier: n.tier,
      network: n.network,
      eligible: n.eligible,
    }));
    return {
      manifest: parseManifest(reply.manifestJson, `manifest of ${modelId} from registry ${this.endpoint}`),
      manifestJson: reply.manifestJson,
      nodes,
      auditSamplingRate: reply.auditSamplingRate,
    };
  }

  /** The model's manifest and its tokenizer GGUF (metadata only, no tensors). */
  async getManifest(modelId: string): Promise<{ manifest: Manifest; manifestJson: string; tokenizerGguf: Uint8Array }> {
    const reply = await this.#calls.call<ManifestReply__Output>((cb) =>
      this.#grpc.getManifest({ modelId }, this.#calls.options(), cb),
    );
    const manifest = parseManifest(reply.manifestJson, `manifest of ${modelId} from registry ${this.endpoint}`);
    return { manifest, manifestJson: reply.manifestJson, tokenizerGguf: new Uint8Array(reply.tokenizerGguf) };
  }

  async listModels(): Promise<ModelListing[]> {
    const reply = await this.#calls.call<ListModelsReply__Output>((cb) =>
      this.#grpc.listModels({}, this.#calls.options(), cb),
    );
    return reply.models.map((m) => ({
      modelId: m.modelId,
      architecture: m.architecture,
      shards: m.shards,
      pricePer1kTokens: m.pricePer_1kTokens,
    }));
  }

  /**
   * The registries this one knows, itself first. `selfEndpoint` is the caller's own registry
   * endpoint (omit it from a client), `known` the registries the caller knows, `identity` the
   * calling registry's signed identity.
   */
  async exchangePeers(
    selfEndpoint = '',
    known: readonly string[] = [],
    identity?: SignedPayload,
  ): Promise<RegistryPeerInfo[]> {
    const reply = await this.#calls.call<ExchangePeersReply__Output>((cb) =>
      this.#grpc.exchangePeers(
        { selfEndpoint, known: [...known], ...(identity === undefined ? {} : { selfIdentity: identity }) },
        this.#calls.options(),
        cb,
      ),
    );
    return reply.peers.map((p) => ({
      endpoint: p.endpoint,
      clusterId: p.clusterId,
      lastSeenMs: p.lastSeenMs,
      ...(p.identity === null ? {} : { identity: { payload: p.identity.payload, signature: p.identity.signature } }),
    }));
  }

  /** Adds to the key's stake on the registry's ledger; returns the whole stake after it. */
  async stake(key: KeyPair, amount: bigint): Promise<bigint> {
    const reply = await this.#calls.call<StakeReply__Output>((cb) =>
      this.#grpc.stake(operatorRequest(key, 'stake', amount), this.#calls.options(), cb),
    );
    return BigInt(reply.stake);
  }

  /** Starts the key's unstaking cooldown; returns the instant (unix ms) it may withdraw. */
  async requestUnstake(key: KeyPair): Promise<number> {
    return (
      await this.#calls.call<RequestUnstakeReply__Output>((cb) =>
        this.#grpc.requestUnstake(operatorRequest(key, 'unstake'), this.#calls.options(), cb),
      )
    ).unstakingUntilMs;
  }

  /** Takes the key's whole stake back after its cooldown; returns the amount. */
  async withdrawStake(key: KeyPair): Promise<bigint> {
    return BigInt(
      (
        await this.#calls.call<WithdrawStakeReply__Output>((cb) =>
          this.#grpc.withdrawStake(operatorRequest(key, 'withdraw'), this.#calls.options(), cb),
        )
      ).amount,
    );
  }

  /** Takes out everything the key may claim; returns the amount. */
  async claim(key: KeyPair): Promise<bigint> {
    return BigInt(
      (
        await this.#calls.call<ClaimReply__Output>((cb) =>
          this.#grpc.claim(operatorRequest(key, 'claim'), this.#calls.options(), cb),
        )
      ).amount,
    );
  }

  /**
   * Credits `to` with stake and/or a client deposit on the registry's ledger, signed by the cluster
   * operator's `key` (one of the cluster config's operatorKeys); returns `to`'s stake and client
   * balance after it.
   */
  async grant(key: KeyPair, to: string, amounts: GrantAmounts): Promise<{ stake: bigint; balance: bigint }> {
    const signed = signGrant(key, {
      operator: key.address,
      to: to.toLowerCase(),
      ...(amounts.stake === undefined ? {} : { stake: String(amounts.stake) }),
      ...(amounts.deposit === undefined ? {} : { deposit: String(amounts.deposit) }),
      timestampMs: Date.now(),
      nonce: randomBytes(16).toString('hex'),
    });
    const reply = await this.#calls.call<GrantReply__Output>((cb) =>
      this.#grpc.grant(signed, this.#calls.options(), cb),
    );
    return { stake: BigInt(reply.stake), balance: BigInt(reply.balance) };
  }

  async account(address: string): Promise<Account> {
    const reply = await this.#calls.call<AccountReply__Output>((cb) =>
      this.#grpc.getAccount({ address }, this.#calls.options(), cb),
    );
    const e = reply.escrow;
    const escrow: EscrowInfo =
      e?.backend === 'evm' ? { backend: 'evm', rpcUrl: e.rpcUrl, contract: e.contract } : { backend: 'ledger' };
    return {
      address: reply.address,
      stake: BigInt(reply.stake),
      claimable: BigInt(reply.claimable),
      deposited: BigInt(reply.deposited),
      balance: BigInt(reply.balance || '0'),
      escrow,
      ...(reply.unstakingUntilMs === 0 ? {} : { unstakingUntilMs: reply.unstakingUntilMs }),
    };
  }

  /** Closes the channel; calls in flight reject with CANCELLED. */
  close(): void {
    this.#calls.cancelAll();
    this.#grpc.close();
  }
}

function announce(key: KeyPair, kind: AnnouncementKind, body: AnnouncementBody) {
  const announcement: Announcement = {
    ...body,
    kind,
    nodeId: key.address,
    timestampMs: Date.now(),
    nonce: randomBytes(16).toString('hex'),
  };
  return signAnnouncement(key, announcement);
}

function operatorRequest(key: KeyPair, action: OperatorAction, amount?: bigint) {
  return signOperatorRequest(key, {
    action,
    nodeId: key.address,
    ...(amount === undefined ? {} : { amount: String(amount) }),
    timestampMs: Date.now(),
    nonce: randomBytes(16).toString('hex'),
  });
}

export interface HeartbeatOptions {
  /** Usually the `heartbeatIntervalMs` that register() returned. */
  readonly intervalMs: number;
  /** Called with each failed heartbeat or re-registration; the loop keeps going. */
  readonly onError?: (error: Error) => void;
  /** Called after each heartbeat (or re-registration) the registry accepted: the role is listed. */
  readonly onSuccess?: () => void;
  /** Called with the audits a heartbeat's reply says the node owes, when it lists any. */
  readonly onOwedAudits?: (owed: readonly OwedAudit__Output[]) => void;
  /** Called with each accepted heartbeat's (or re-registration's) unstaking end: 0 unless unstaking. */
  readonly onUnstaking?: (untilMs: number) => void;
}

/**
 * Sends a signed heartbeat every `intervalMs` with the body `body()` returns at that moment (so the
 * load is current). A registry that answers NOT_FOUND (the node was evicted, or the registry lost
 * it) gets a fresh registration. The returned function stops the loop and waits for a call in flight.
 */
export function startHeartbeats(
  client: RegistryClient,
  key: KeyPair,
  body: () => AnnouncementBody,
  options: HeartbeatOptions,
): () => Promise<void> {
  let stopped = false;
  let inFlight: Promise<void> | undefined;
  const beat = async () => {
    try {
      const reply = await client.heartbeat(key, body());
      options.onSuccess?.();
      options.onUnstaking?.(reply.unstakingUntilMs);
      if (reply.owedAudits.length > 0) options.onOwedAudits?.(reply.owedAudits);
    } catch (error) {
      if (stopped) return;
      if ((error as ServiceError).code !== status.NOT_FOUND) return options.onError?.(error as Error);
      try {
        const registered = await client.register(key, body());
        options.onSuccess?.();
        options.onUnstaking?.(registered.unstakingUntilMs);
      } catch (again) {
        options.onError?.(again as Error);
      }
    }
  };
  const timer = setInterval(() => {
    // A slow registry gets one heartbeat at a time, not a growing queue of them.
    if (inFlight !== undefined) return;
    inFlight = beat().finally(() => (inFlight = undefined));
  }, options.intervalMs);
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await inFlight;
  };
}
