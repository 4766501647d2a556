import { silentLogger, type Logger } from '../core/log.ts';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { TesseraError } from '../core/errors.ts';
import type { KeyPair } from '../crypto/keys.ts';
import { CallLimits, type RateOverrides } from '../rpc/call-limits.ts';
import { METHOD_POLICIES, RATE } from '../rpc/method-policy.ts';
import { startGrpcServer } from '../rpc/server.ts';
import { toStatusObject } from '../rpc/status.ts';
import { parseManifest } from '../model/manifest.ts';
import { tessera } from '../proto/services.ts';
import type { RegistryHandlers } from '../proto/tessera/v1/Registry.ts';
import type { Signed__Output } from '../proto/tessera/v1/Signed.ts';
import { admitStaked, silenceLimitMs, type AdmissionContext } from './admission.ts';
import { shardEndOf, type Announcement, type AnnouncementKind } from './announcement.ts';
import { auditRetentionMs, type ClusterConfig } from './cluster-config.ts';
import { AuditService, type StakeSlasher } from './audit-service.ts';
import { PeerGossip } from './gossip.ts';
import { signRegistryIdentity } from './registry-identity.ts';
import { operatorHandlers } from './operator-service.ts';
import { REGISTRY_MAX_MESSAGE_BYTES } from './registry-client.ts';
import { RegistryStore } from './store.ts';
import { storeDirectory } from './member-directory.ts';
import { StakeGate, type StakeReader } from './stake-gate.ts';
import { listNodes } from './node-listing.ts';
import { startSettlementLoop } from './settlement.ts';
import type { SettlementBackend } from './settlement-backend.ts';
import { membershipHandlers } from '../chain/membership-service.ts';
import { Metrics } from '../metrics/metrics.ts';
import { healthy, unhealthy, type Health } from '../metrics/metrics-server.ts';
import { RegistryMetrics } from './registry-metrics.ts';
import { RosterSigner } from './roster-signer.ts';
import { EquivocationJudgeService } from './equivocation.ts';
import { BPS, type StakeInfo } from './settlement-backend.ts';
import { assignShardHandler } from './shard-assignment-service.ts';
import { ASSIGNMENT_HOLD_MS, MAX_HOLDS, ShardAssigner } from './shard-assignment.ts';
import { shardFilesHandlers } from './shard-server.ts';

export interface RegistryOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** The endpoint other registries and clients reach this one at. Default HOST:PORT. */
  readonly advertise?: string;
  readonly dbPath: string;
  readonly clusterConfig: ClusterConfig;
  /** Added to the config's seeds. */
  readonly seeds?: readonly string[];
  /** Signs this registry's identity in gossip; its address belongs in the cluster config's registryKeys. None: peers know it only as a seed. */
  readonly key?: KeyPair;
  /** One structured event per line; default silent. */
  readonly log?: Logger;
  /** Where confirmed fraud proofs take stake (e.g. src/escrow's LedgerBackend); none: slashes stay on record, pending. */
  readonly settlement?: StakeSlasher;
  /** Where bonds are read; given, Discover lists only nodes at or above the cluster's stake minimum and not unstaking. */
  readonly stakes?: StakeReader;
  /** Settles the live daemon's windows on this back end (src/registry/settlement.ts); none: no settlement. */
  readonly settle?: { readonly backend: SettlementBackend; readonly intervalMs?: number };
  /** Where operators stake, unstake, withdraw and claim (src/registry/operator-service.ts); none: those calls are refused. */
  readonly accounts?: SettlementBackend;
  /** Where the registry's figures go (src/metrics); none: they are kept but never read. */
  readonly metrics?: Metrics;
  /** Bucket numbers by bucket name, over the cluster config's and the defaults (a test narrows one). */
  readonly rateLimits?: RateOverrides;
  /** Shard assignments held for nodes not registered yet, in all (src/registry/shard-assignment.ts); default MAX_HOLDS. */
  readonly assignmentHolds?: number;
  /** GetShard streams per peer host and in all (src/registry/shard-server.ts); default its own. */
  readonly shardStreams?: { readonly perPeer?: number; readonly total?: number };
}

export interface RegistryHandle {
  readonly port: number;
  readonly endpoint: string;
  /** Serving, with its database open. */
  health(): Health;
  /** Stops serving (in-flight calls finish), stops the timers and closes the database. */
  close(): Promise<void>;
}

const REGISTRY_POLICY = METHOD_POLICIES['tessera.v1.Registry'];
const AUDIT_POLICY = METHOD_POLICIES['tessera.v1.Audit'];
const METHOD_OF_KIND = { register: 'Register', heartbeat: 'Heartbeat', unregister: 'Unregister' } as const;
const KIND_OF_METHOD: Readonly<Record<string, AnnouncementKind>> = {
  Register: 'register',
  Heartbeat: 'heartbeat',
  Unregister: 'unregister',
};

export async function startRegistry(options: RegistryOptions): Promise<RegistryHandle> {
  const config = options.clusterConfig;
  const log = options.log ?? silentLogger;
  const store = new RegistryStore(options.dbPath);
  try {
    store.replaceManifests(
      config.models.map((m) => ({
        modelId: m.id,
        manifestJson: m.manifestJson,
        tokenizerPath: m.tokenizerPath,
        pricePer1kTokens: m.pricePer1kTokens,
      })),
      Date.now(),
    );
    const served = new Map(
      store.manifests().map((m) => {
        const manifest = parseManifest(m.manifestJson, `stored manifest of ${m.modelId}`);
        return [m.modelId, { ...m, manifest, shards: manifest.shards.length }];
      }),
    );
    const audit = new AuditService({
      store,
      config,
      log,
      takeKey: (method, key) => takeKey(method, key),
      ...(options.settlement === undefined ? {} : { settlement: options.settlement }),
      ...(auditStakes(options) === undefined ? {} : { stakes: auditStakes(options)! }),
    });
    const metrics = new RegistryMetrics(options.metrics ?? new Metrics(), {
      db: store.database,
      models: [...served.values()].map((m) => ({ modelId: m.modelId, shards: m.shards })),
      silenceLimitMs: silenceLimitMs(config),
    });
    // The share chain's leaders: one signed roster per epoch, and the slash of a daemon that signs two blocks for a slot.
    const equivocation = new EquivocationJudgeService({
      db: store.database,
      evict: (daemon) => store.evictNode(daemon),
      ...(options.settlement === undefined ? {} : { slasher: options.settlement }),
      fractionBps: Math.round(config.stake.slashFractions.fraud * BPS),
      log,
    });
    const rosters = new RosterSigner({
      db: store.database,
      ...(options.key === undefined ? {} : { key: options.key }),
      registryKeys: config.registryKeys,
      liveDaemons: () =>
        storeDirectory(store.database, silenceLimitMs(config))
          .members([], 'daemon')
          .map((m) => m.nodeId),
      ...(options.stakes === undefined ? {} : { stakes: options.stakes }),
      minimum: config.stake.minimum.daemon,
      banned: (daemon) => equivocation.banReason(daemon) !== undefined,
    });
    const stakeGate = options.stakes === undefined ? undefined : new StakeGate(options.stakes, config.stake.minimum);
    const context: AdmissionContext = {
      store,
      config,
      served,
      ...(stakeGate === undefined ? {} : { stakeGate }),
      banReason: (nodeId) => audit.banReason(nodeId) ?? equivocation.banReason(nodeId),
    };
    const contextOf = (kind: AnnouncementKind): AdmissionContext => ({
      ...context,
      takeKey: (nodeId) => takeKey(METHOD_OF_KIND[kind], nodeId),
    });
    // The cluster's rateLimit sets the signed-call buckets, per peer and per key.
    const limits = new CallLimits({
      announce: config.rateLimit,
      operator: config.rateLimit,
      // A key heartbeats at the cluster's interval: room for four times that pace, and no less than the default.
      'announce-key': {
        perSecond: Math.max(RATE.announceKey.perSecond, 4_000 / config.heartbeat.intervalMs),
        burst: RATE.announceKey.burst,
      },
      ...options.rateLimits,
    });
    const takeKey = (method: string, key: string) => {
      const policy =
        REGISTRY_POLICY[method as keyof typeof REGISTRY_POLICY] ?? AUDIT_POLICY[method as keyof typeof AUDIT_POLICY];
      limits.key(method, policy, key, Date.now());
    };
    const tokenizers = new Map<string, Buffer>();

    const authCall =
      (
        kind: AnnouncementKind,
        reply: (nowMs: number, admitted: Announcement, stake: StakeInfo | undefined) => object | Promise<object>,
      ) =>
      async (call: ServerUnaryCall<Signed__Output, object>, callback: sendUnaryData<object>) => {
        const nowMs = Date.now();
        try {
          const { announcement: a, stake } = await admitStaked(
            contextOf(kind),
            kind,
            { payload: call.request.payload, signature: call.request.signature },
            nowMs,
          );
          metrics.admission(kind, 'accepted');
          if (kind !== 'heartbeat')
            log(kind === 'register' ? 'node_registered' : 'node_unregistered', {
              nodeId: a.nodeId,
              role: a.role,
              modelId: a.modelId,
              shard: a.shardIndex,
              shardEnd: shardEndOf(a),
              endpoint: a.endpoint,
            });
          callback(null, await reply(nowMs, a, stake));
        } catch (error) {
          if (!(error instanceof TesseraError)) {
            log('internal_error', { kind, error: (error as Error).message });
            metrics.admission(kind, 'INTERNAL');
          }
          const sent = toStatusObject(error);
          if (error instanceof TesseraError) {
            log('announcement_refused', { peer: call.getPeer(), kind, code: error.code, reason: error.message });
            // The metric's result is the gRPC code (docs/metrics.md): a bounded set, whatever reasons come.
            metrics.admission(kind, error.code === 'RATE_LIMITED' ? 'rate_limited' : status[sent.code!]);
          }
          callback(sent as never);
        }
      };

    const notServed = (modelId: string) =>
      toStatusObject(
        new TesseraError(
          'UNKNOWN_MODEL',
          'not_found',
          `model "${modelId}" is not served by this registry; it serves ${[...served.keys()].map((id) => `"${id}"`).join(', ')}`,
        ),
      ) as never;
    let gossip: PeerGossip | undefined;
    // A node stops taking new sessions during its cooldown: it hears of it in these replies. The
    // stake the admission read is the one used: a second read would be a second chain round trip.
    const unstakingUntilMs = async (a: Announcement, read: StakeInfo | undefined): Promise<number> => {
      if (a.role !== 'node' || options.stakes === undefined) return 0;
      try {
        return (read ?? (await options.stakes.stakeOf(a.nodeId))).unstakingUntilMs ?? 0;
      } catch (error) {
        throw new TesseraError(
          'STAKES_UNAVAILABLE',
          'unavailable',
          `stakes cannot be read: ${(error as Error).message}`,
        );
      }
    };

    const handlers: RegistryHandlers = {
      Register: authCall('register', async (nowMs, a, stake) => ({
        heartbeatIntervalMs: config.heartbeat.intervalMs,
        registeredAtMs: nowMs,
        auditSamplingRate: config.audit.samplingRate,
        auditRetentionMs: auditRetentionMs(config),
        unstakingUntilMs: await unstakingUntilMs(a, stake),
      })),
      // A node learns here the audits it owes, whether or not their clients revealed on its stream.
      Heartbeat: authCall('heartbeat', async (nowMs, a, stake) => ({
        serverTimeMs: nowMs,
        owedAudits: a.role === 'node' ? audit.owedTo(a.nodeId) : [],
        unstakingUntilMs: await unstakingUntilMs(a, stake),
      })),
      Unregister: authCall('unregister', () => ({})),
      ListModels: (_call, callback) => {
        callback(null, {
          models: [...served.values()].map((m) => ({
            modelId: m.modelId,
            architecture: m.manifest.architecture,
            shards: m.manifest.shards.length,
            pricePer_1kTokens: m.pricePer1kTokens,
          })),
        });
      },
      GetManifest: (call, callback) => {
        const model = served.get(call.request.modelId);
        if (model === undefined) return callback(notServed(call.request.modelId));
        try {
          let tokenizer = tokenizers.get(model.modelId);
          if (tokenizer === undefined) {
            tokenizer = readFileSync(model.tokenizerPath);
            tokenizers.set(model.modelId, tokenizer);
          }
          callback(null, { manifestJson: model.manifestJson, tokenizerGguf: tokenizer });
        } catch (error) {
          callback(
            toStatusObject(
              new TesseraError(
                'TOKENIZER_UNAVAILABLE',
                'unavailable',
                `tokenizer of "${model.modelId}" cannot be read: ${(error as Error).message}`,
              ),
            ) as never,
          );
        }
      },
      Discover: (call, callback) => {
        const model = served.get(call.request.modelId);
        if (model === undefined) return callback(notServed(call.request.modelId));
        const live = store.liveNodes(model.modelId, Date.now() - silenceLimitMs(config));
        listNodes(
          live,
          stakeGate === undefined ? undefined : { gate: stakeGate, reader: options.stakes! },
          call.request.includeIneligible,
        ).then(
          (nodes) =>
            callback(null, { manifestJson: model.manifestJson, nodes, auditSamplingRate: config.audit.samplingRate }),
          (error: Error) =>
            callback(
              toStatusObject(
                new TesseraError('STAKES_UNAVAILABLE', 'unavailable', `stakes cannot be read: ${error.message}`),
              ) as never,
            ),
        );
      },
      ExchangePeers: (call, callback) => {
        try {
          const peers = gossip?.answer(call.request.selfEndpoint, call.request.selfIdentity, Date.now()) ?? [];
          callback(null, { peers });
        } catch (error) {
          if (error instanceof TesseraError)
            log('peer_refused', { peer: call.getPeer(), endpoint: call.request.selfEndpoint, code: error.code });
          callback(toStatusObject(error) as never);
        }
      },
      AssignShard: assignShardHandler({
        ...context,
        takeKey: (nodeId) => takeKey('AssignShard', nodeId),
        manifests: new Map([...served.values()].map((m) => [m.modelId, m.manifest])),
        assigner: new ShardAssigner(ASSIGNMENT_HOLD_MS, options.assignmentHolds ?? MAX_HOLDS),
        log,
      }),
      ...operatorHandlers({
        store,
        config,
        log,
        takeKey,
        ...(options.accounts === undefined ? {} : { backend: options.accounts }),
      }),
    };

    const server = await startGrpcServer({
      role: 'registry',
      port: options.port,
      ...(options.host === undefined ? {} : { host: options.host }),
      ...(options.advertise === undefined ? {} : { advertise: options.advertise }),
      limits,
      maxSendBytes: REGISTRY_MAX_MESSAGE_BYTES,
      onRefused: (refusal) => {
        log('call_refused', { ...refusal });
        const kind = KIND_OF_METHOD[refusal.method];
        if (kind !== undefined && refusal.reason === 'RATE_LIMITED') metrics.admission(kind, 'rate_limited');
      },
      services: [
        { name: 'tessera.v1.Registry', definition: tessera.v1.Registry.service, handlers },
        {
          name: 'tessera.v1.Audit',
          definition: tessera.v1.Audit.service,
          handlers: audit.handlers(),
          // Tickets (and fraud proofs, which carry one) up to the cluster's own bound.
          maxRequestBytes: {
            SubmitTicket: config.audit.maxTicketBytes + 64 * 1024,
            SubmitFraudProof: config.audit.maxTicketBytes + 64 * 1024,
          },
        },
        // A joining node downloads its span's shard files from the files beside each manifest.
        {
          name: 'tessera.v1.ShardFiles',
          definition: tessera.v1.ShardFiles.service,
          handlers: shardFilesHandlers({
            models: new Map(config.models.map((m) => [m.id, { manifest: m.manifest, dir: dirname(m.manifestPath) }])),
            ...(options.shardStreams?.perPeer === undefined ? {} : { maxStreamsPerPeer: options.shardStreams.perPeer }),
            ...(options.shardStreams?.total === undefined ? {} : { maxStreams: options.shardStreams.total }),
            log,
          }),
        },
        // Daemons ask which nodes are admitted, and with which share keys, before they accept shares.
        {
          name: 'tessera.v1.Membership',
          definition: tessera.v1.Membership.service,
          handlers: membershipHandlers(storeDirectory(store.database, silenceLimitMs(config)), {
            rosters,
            equivocation,
          }),
        },
      ],
    });
    const endpoint = server.endpoint;

    const evictTimer = setInterval(() => {
      const evicted = store.evictSilent(Date.now() - silenceLimitMs(config));
      for (const nodeId of evicted)
        log('node_evicted', { nodeId, missedHeartbeats: config.heartbeat.evictAfterMissed });
      audit.decideRefusals(Date.now()).catch((error: Error) => log('slash_failed', { error: error.message }));
      audit.releaseCanaryReserve(Date.now());
    }, config.heartbeat.intervalMs);
    evictTimer.unref();

    const settlement =
      options.settle === undefined
        ? undefined
        : startSettlementLoop({
            backend: options.settle.backend,
            db: store.database,
            members: storeDirectory(store.database, silenceLimitMs(config)),
            authorities: () => new Set(rosters.authorities),
            log,
            onEvent: (event) => metrics.settlement(event),
            ...(options.settle.intervalMs === undefined ? {} : { intervalMs: options.settle.intervalMs }),
          });
    audit.applyPendingSlashes().catch((error: Error) => log('slash_failed', { error: error.message }));
    gossip = new PeerGossip({
      store,
      self: endpoint,
      clusterId: config.clusterId,
      seeds: [...new Set([...config.seeds, ...(options.seeds ?? [])])],
      registryKeys: config.registryKeys,
      ...(options.key === undefined ? {} : { identity: signRegistryIdentity(options.key, config.clusterId, endpoint) }),
      intervalMs: config.gossipIntervalMs,
      log,
    });
    log('registry_started', { endpoint, clusterId: config.clusterId, models: [...served.keys()], db: options.dbPath });

    let closing: Promise<void> | undefined;
    return {
      port: server.port,
      endpoint,
      health: () => {
        if (closing !== undefined) return unhealthy('shutting down');
        if (!store.database.open) return unhealthy(`its database ${options.dbPath} is closed`);
        return healthy({ endpoint, clusterId: config.clusterId, db: options.dbPath });
      },
      close: () =>
        (closing ??= (async () => {
          clearInterval(evictTimer);
          // First: a fraud proof being recomputed would otherwise hold up the server's shutdown.
          await audit.close();
          await settlement?.close();
          await gossip?.close();
          gossip = undefined;
          await server.shutdown();
          store.close();
          log('registry_stopped', { endpoint });
        })()),
    };
  } catch (error) {
    store.close();
    throw error;
  }
}

/** Where the audit service reads verifiers' bonds: the given reader, else a settlement back end that keeps stakes. */
function auditStakes(options: RegistryOptions): StakeReader | undefined {
  if (options.stakes !== undefined) return options.stakes;
  const settlement = options.settlement as Partial<StakeReader> | undefined;
  return typeof settlement?.stakeOf === 'function' ? (settlement as StakeReader) : undefined;
}
