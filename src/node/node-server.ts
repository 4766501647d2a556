import type { Logger } from '../core/log.ts';
import { jsonLogger } from '../core/log.ts';
import { type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { readKeyFile, type KeyPair } from '../crypto/keys.ts';
import { Engine } from '../model/engine.ts';
import { tessera } from '../proto/services.ts';
import type { ForwardReply } from '../proto/tessera/v1/ForwardReply.ts';
import type { ForwardRequest__Output } from '../proto/tessera/v1/ForwardRequest.ts';
import type { InfoReply } from '../proto/tessera/v1/InfoReply.ts';
import { createWasmBackend } from '../tensor/wasm-backend.ts';
import { FORWARD_CHANNEL_OPTIONS, widenForwardWindows } from '../rpc/stream-options.ts';
import { startGrpcServer, type GrpcServer } from '../rpc/server.ts';
import { checkAdvertisedEndpoint, serverCredentials, type TlsFiles } from './endpoint-security.ts';
import { ForwardStream, type NodeContext } from './forward-stream.ts';
import { StepBatcher } from './step-batcher.ts';
import { defaultMaxMessageBytes, type NodeBounds } from './limits.ts';
import { DEFAULT_SAMPLING_RATE, checkSamplingRate } from '../protocol/audit-selection.ts';
import { AUDIT_WINDOW_DEFAULTS, type AuditWindowLimits } from './audit-window.ts';
import { LoadMeter } from './load-meter.ts';
import { Metrics } from '../metrics/metrics.ts';
import { healthy, unhealthy, type Health } from '../metrics/metrics-server.ts';
import { NodeMetrics } from './node-metrics.ts';
import { NodeAudits } from './node-audits.ts';
import { NextHopChannels } from './next-hop.ts';
import { registerNode } from './registration.ts';
import { NodeState } from './node-state.ts';
import { measureLayerMs, speedTierOf } from './capability.ts';
import { SessionStore } from './session-store.ts';
import { SessionQuota } from './session-quota.ts';
import { LoopbackRouteCheck, RegistryRouteCheck, type RouteCheck } from './route-check.ts';
import { RegistryClient } from '../registry/registry-client.ts';
import { NodeDb } from './node-db.ts';
import { ShareSubmitter } from './share-submitter.ts';
import { openSpanIn, sameSpan, spanLayers, type ShardSpan } from '../model/shards/span.ts';
import { shardFilesHandlers } from '../registry/shard-server.ts';
import { roleOfShard } from '../registry/shard-assignment.ts';
import { ENGINE_VERSION, FORWARD_PROTOCOL } from '../protocol/version.ts';
import { NODE_DEFAULTS } from './node-defaults.ts';

export interface NodeOptions {
  readonly shardsDir: string;
  /**
   * The shards [shardIndex, shardEnd) the node holds (default shardEnd: shardIndex + 1, one shard):
   * it serves any span of them as a hop of a route.
   */
  readonly shardIndex: number;
  readonly shardEnd?: number;
  /** 0 picks a free port. */
  readonly port: number;
  /** Interface to listen on. Default 127.0.0.1. */
  readonly host?: string;
  /** HOST:PORT others reach this node at. Default: host:port as bound. */
  readonly advertise?: string;
  /** HOST:PORT of the registry to register with; none: the node is only reachable by its endpoint. */
  readonly registry?: string;
  /** The node's identity: a key, or the path of its key file (mode 0600). */
  readonly key?: KeyPair;
  readonly keyPath?: string;
  /** Serve TLS; required when the advertised endpoint is not loopback. */
  readonly tls?: TlsFiles;
  /** CA bundle (PEM file) that signs TLS next hops; default: the system's. */
  readonly tlsCa?: string;
  readonly threads?: number;
  readonly maxSessions?: number;
  /** Most sessions one client key may hold. Default: a quarter of maxSessions (at least 1). */
  readonly maxSessionsPerClient?: number;
  /**
   * Most sessions one peer address may hold, the registered previous hop of the session's route
   * excepted (it forwards for many clients). Default: half of maxSessions (at least 1).
   */
  readonly maxSessionsPerPeer?: number;
  /** How long a new Forward stream may take to send its Open. Default 5 s. */
  readonly openTimeoutMs?: number;
  /** How long the next hop may take to answer an Open. Default 10 s. */
  readonly nextHopOpenedTimeoutMs?: number;
  /** KV-cache bytes for all sessions together. */
  readonly cacheBytes?: number;
  readonly idleTimeoutMs?: number;
  /** Most positions one step may carry. Default: the model's context. */
  readonly maxStepPositions?: number;
  /** Most positions one batch of steps runs (longer prompts run in chunks). Default: DEFAULT_BATCH_POSITIONS. */
  readonly maxBatchPositions?: number;
  /** Largest gRPC message accepted. Default: a full step of hidden states in f32, plus 1 MiB. */
  readonly maxMessageBytes?: number;
  /** On close, how long a step waiting on its next hop may take to finish. Default 30 s. */
  readonly drainGraceMs?: number;
  readonly pricePer1kTokens?: number;
  readonly region?: string;
  /** Structured log lines; default: JSON on stderr. */
  readonly log?: Logger;
  /**
   * Where the node keeps what must survive a restart (node.db): the audit steps it may still owe and
   * the shares no daemon has acknowledged. None: kept in memory only, lost if the process dies.
   */
  readonly dataDir?: string;
  /** HOST:PORT of the share-chain daemon that receives this node's compute shares; none: no shares. */
  readonly daemon?: string;
  /** How often shares are sent to the daemon. Default 1 s. */
  readonly shareFlushIntervalMs?: number;
  /**
   * Fraction of position-0 steps a client's revealed secret selects for audit. Default: the rate
   * the registry answers the registration with (the cluster's), else 0.05.
   */
  readonly samplingRate?: number;
  /**
   * How many inputs (count, bytes, age) are kept for audits. Steps the cluster may still audit (see
   * the registry's auditRetentionMs) are never dropped to the count or bytes: the node refuses new
   * sessions while they fill the window.
   */
  readonly auditWindow?: Partial<AuditWindowLimits>;
  /**
   * TEST ONLY: replaces the engine of each span the node runs (e.g. with one that perturbs its
   * outputs, to test that audits catch it). Never set outside tests; no CLI flag reaches it.
   */
  readonly testOnlyWrapEngine?: (engine: Engine) => Engine;
  /** Where the node's figures go (src/metrics); none: they are kept but never read. */
  readonly metrics?: Metrics;
  /** How long the node holds no session before it says IDLE rather than READY. Default 60 s. */
  readonly idleAfterMs?: number;
}

export interface NodeHandle {
  readonly port: number;
  readonly endpoint: string;
  readonly nodeId: string;
  /** Serving, and (with a registry) listed there: its last heartbeat was accepted. */
  health(): Health;
  /** Stops accepting sessions, lets steps in progress finish, unregisters and shuts down. */
  close(): Promise<void>;
}

export { NODE_DEFAULTS };

/** Deadline of the Discover calls that check a route's next hop: an Open waits on them. */
const ROUTE_CHECK_DEADLINE_MS = 3_000;

function routeCheckOf(registry: string | undefined): RouteCheck {
  if (registry === undefined) return new LoopbackRouteCheck();
  const client = new RegistryClient(registry, { deadlineMs: ROUTE_CHECK_DEADLINE_MS });
  return new RegistryRouteCheck(
    async (modelId) => (await client.discover(modelId)).nodes,
    () => client.close(),
  );
}

function resolveKey(options: NodeOptions): KeyPair {
  if (options.key) return options.key;
  if (options.keyPath) return readKeyFile(options.keyPath);
  throw new Error('a node needs a key: pass key or keyPath');
}

/** Streams beyond maxSessions one connection may carry (Info probes, streams about to end). */
const MAX_CONCURRENT_STREAMS_SLACK = 8;

const bindAddress = (host: string, port: number) => `${host.includes(':') ? `[${host}]` : host}:${port}`;

/**
 * Starts a compute node holding a span of shards: verifies each of their files against the manifest,
 * loads their layers into one engine, serves Forward (any span of them, as a hop of a route) and
 * Info, and registers with the registry when one is given.
 */
export async function startNode(options: NodeOptions): Promise<NodeHandle> {
  const host = options.host ?? NODE_DEFAULTS.host;
  const log = options.log ?? jsonLogger('node');
  const key = resolveKey(options);
  const samplingRate = checkSamplingRate(options.samplingRate ?? DEFAULT_SAMPLING_RATE, 'samplingRate');
  const clusterRate = options.samplingRate === undefined;
  const tls = options.tls !== undefined;
  if (options.advertise === undefined && (host === '0.0.0.0' || host === '::')) {
    throw new Error(
      `a node listening on every interface (${host}) must say where others reach it: pass --advertise HOST:PORT`,
    );
  }
  // Checked before any work: a known port is checked now, port 0 once bound.
  if (options.advertise !== undefined) checkAdvertisedEndpoint(options.advertise, tls);
  else if (options.port !== 0) checkAdvertisedEndpoint(bindAddress(host, options.port), tls);
  const credentials = serverCredentials(options.tls);

  const opened = openSpanIn(options.shardsDir, {
    start: options.shardIndex,
    end: options.shardEnd ?? options.shardIndex + 1,
  });
  const { manifest, span: held, layers } = opened;
  const { config } = manifest;
  let backend;
  let loaded: Engine;
  let layerMs: number | undefined;
  try {
    backend = await createWasmBackend({ threads: options.threads ?? availableParallelism() });
    loaded = new Engine(config, layers, backend, opened.weights);
    // The tier it announces is measured on one of its own layers, at the model's dimensions.
    if (layers.end > layers.start)
      layerMs = measureLayerMs(
        { config, weights: opened.weights },
        backend,
        9,
        layers.start + Math.floor((layers.end - layers.start) / 2),
      );
  } catch (error) {
    await backend?.close();
    throw error;
  } finally {
    opened.weights.close(); // the engine holds its own copy of the weights
  }
  const wrap = options.testOnlyWrapEngine ?? ((engine: Engine) => engine);
  const engine = wrap(loaded);
  // One view per span served, made at its first session: views share the loaded weights.
  const views = new Map<string, Engine>();
  const engineFor = (span: ShardSpan): Engine => {
    if (sameSpan(span, held)) return engine;
    const key = `${span.start}-${span.end}`;
    let view = views.get(key);
    if (!view) views.set(key, (view = wrap(loaded.slice(spanLayers(manifest, span)))));
    return view;
  };

  const maxSessions = options.maxSessions ?? NODE_DEFAULTS.maxSessions;
  const cacheBytes = options.cacheBytes ?? NODE_DEFAULTS.cacheBytes;
  const bounds: NodeBounds = {
    hiddenSize: config.hiddenSize,
    contextLength: config.contextLength,
    maxStepPositions: options.maxStepPositions ?? config.contextLength,
    vocabSize: config.vocabSize,
  };
  const maxMessageBytes = options.maxMessageBytes ?? defaultMaxMessageBytes(bounds);
  const store = new SessionStore({
    maxSessions,
    cacheBytes,
    idleTimeoutMs: options.idleTimeoutMs ?? NODE_DEFAULTS.idleTimeoutMs,
  });
  const channels = new NextHopChannels(
    maxMessageBytes,
    options.tlsCa === undefined ? undefined : readFileSync(options.tlsCa),
  );
  const quota = new SessionQuota({
    perClient: options.maxSessionsPerClient ?? Math.max(1, Math.floor(maxSessions / 4)),
    perPeer: options.maxSessionsPerPeer ?? Math.max(1, Math.floor(maxSessions / 2)),
  });
  const routes = routeCheckOf(options.registry);
  const load = new LoadMeter(engine);
  const db = options.dataDir === undefined ? undefined : new NodeDb(options.dataDir);
  const audits = new NodeAudits({
    manifest,
    held,
    samplingRate,
    window: { ...AUDIT_WINDOW_DEFAULTS, ...options.auditWindow },
    key,
    log,
    ...(options.registry === undefined ? {} : { registry: options.registry }),
    ...(db === undefined ? {} : { store: db.audits }),
  });
  const streams = new Set<ForwardStream>();
  let draining = false;
  const shares =
    options.daemon === undefined
      ? undefined
      : new ShareSubmitter({
          daemon: options.daemon,
          key,
          log,
          ...(db === undefined ? {} : { store: db.shares }),
          ...(options.shareFlushIntervalMs === undefined ? {} : { flushIntervalMs: options.shareFlushIntervalMs }),
        });
  const state = new NodeState({
    sessions: () => store.size,
    log,
    ...(options.idleAfterMs === undefined ? {} : { idleAfterMs: options.idleAfterMs }),
  });
  const metrics = new NodeMetrics(options.metrics ?? new Metrics(), {
    store,
    cacheBytes,
    audits,
    state,
    ...(shares === undefined ? {} : { shares }),
    shard: {
      modelId: manifest.modelId,
      span: held,
      layerStart: layers.start,
      layerEnd: layers.end,
      role: roleOfShard(layers),
    },
  });
  const ctx: NodeContext = {
    key,
    manifest,
    held,
    engineFor,
    batcher: new StepBatcher({
      activeSessions: () => store.size,
      ...(options.maxBatchPositions === undefined ? {} : { maxBatchPositions: options.maxBatchPositions }),
    }),
    store,
    bounds,
    channels,
    audits,
    cacheBytes,
    log,
    ...(shares === undefined ? {} : { shares }),
    routes,
    quota,
    openTimeoutMs: options.openTimeoutMs ?? NODE_DEFAULTS.openTimeoutMs,
    nextHopOpenedTimeoutMs: options.nextHopOpenedTimeoutMs ?? NODE_DEFAULTS.nextHopOpenedTimeoutMs,
    isDraining: () => draining,
    unstakingUntilMs: () => state.unstakingUntilMs,
    recordCompute: (us, positions, startPosition, stepLayers) => {
      // The load reported is per token through every layer held (a route scales it to the span it asks for).
      load.record((us * (layers.end - layers.start)) / Math.max(1, stepLayers), positions);
      metrics.step(us, positions, startPosition);
    },
  };

  const handlers = {
    Forward(call: ServerDuplexStream<ForwardRequest__Output, ForwardReply>) {
      call.on('error', (status: { code: number }) => metrics.streamFailed(status.code));
      streams.add(new ForwardStream(ctx, call, (done) => streams.delete(done)));
    },
    Info(_call: ServerUnaryCall<unknown, InfoReply>, callback: sendUnaryData<InfoReply>) {
      callback(null, {
        nodeId: key.address,
        modelId: manifest.modelId,
        shardIndex: held.start,
        shardEnd: held.end,
        layerStart: layers.start,
        layerEnd: layers.end,
        activeSessions: store.size,
        maxSessions,
        engineVersion: ENGINE_VERSION,
        forwardProtocol: FORWARD_PROTOCOL,
      });
    },
  };
  let server: GrpcServer | undefined;

  let stopRegistration: (() => Promise<void>) | undefined;
  /** Why the last heartbeat failed; undefined once one is accepted again. */
  let heartbeatError: string | undefined;
  const sweeper = setInterval(
    () => store.sweep(),
    Math.max(10, Math.min(10_000, (options.idleTimeoutMs ?? NODE_DEFAULTS.idleTimeoutMs) / 2)),
  );
  sweeper.unref();
  // Sessions end without telling the state: it is read once a second, so each change is logged.
  const stateTimer = setInterval(() => state.update(), 1_000);
  stateTimer.unref();
  const shutdown = async () => {
    clearInterval(sweeper);
    clearInterval(stateTimer);
    const drain = async () => {
      await Promise.all([...streams].map((stream) => stream.drain(options.drainGraceMs ?? NODE_DEFAULTS.drainGraceMs)));
      await audits.close(options.drainGraceMs ?? NODE_DEFAULTS.drainGraceMs);
      // Shares of finished steps go out before the node leaves; an unreachable daemon holds it up at most 5 s.
      await shares?.close(Math.min(5_000, options.drainGraceMs ?? NODE_DEFAULTS.drainGraceMs));
      await stopRegistration?.();
    };
    await (server === undefined ? drain() : server.shutdown(drain));
    channels.close();
    routes.close();
    db?.close();
    await backend.close();
  };

  try {
    server = await startGrpcServer({
      role: 'node',
      host,
      port: options.port,
      credentials,
      channelOptions: {
        ...FORWARD_CHANNEL_OPTIONS,
        // Per connection: a previous hop carries all its sessions here on one, plus a few probes.
        'grpc.max_concurrent_streams': maxSessions + MAX_CONCURRENT_STREAMS_SLACK,
      },
      maxSendBytes: maxMessageBytes,
      services: [
        {
          name: 'tessera.v1.Node',
          definition: tessera.v1.Node.service,
          handlers,
          maxRequestBytes: { Forward: maxMessageBytes },
        },
        // Nodes joining after this one may fetch the shards it holds from it (issue 12).
        {
          name: 'tessera.v1.ShardFiles',
          definition: tessera.v1.ShardFiles.service,
          handlers: shardFilesHandlers({
            models: new Map([
              [
                manifest.modelId,
                {
                  manifest,
                  dir: options.shardsDir,
                  files: [...opened.entries.map((e) => e.file), manifest.tokenizerFile],
                },
              ],
            ]),
            log,
          }),
        },
      ],
    });
    widenForwardWindows(server.server);
    const { port } = server;
    const endpoint = options.advertise ?? bindAddress(host, port);
    checkAdvertisedEndpoint(endpoint, tls);
    if (options.registry !== undefined) {
      stopRegistration = await registerNode({
        registry: options.registry,
        key,
        modelId: manifest.modelId,
        shardIndex: held.start,
        shardEnd: held.end,
        endpoint,
        tls,
        pricePer1kTokens: options.pricePer1kTokens ?? 0,
        region: options.region ?? '',
        load: () => ({
          activeSessions: store.size,
          maxSessions,
          computeUsPerToken: load.microsecondsPerToken,
          state: state.update(),
        }),
        tier: layerMs === undefined ? 'unmeasured' : speedTierOf(layerMs),
        onUnstaking: (untilMs) => state.setUnstaking(untilMs),
        onError: (error) => {
          heartbeatError = (error as { details?: string }).details || error.message;
          log('registry_error', { registry: options.registry, error: error.message });
        },
        onHeartbeat: () => (heartbeatError = undefined),
        onOwedAudits: (owed) => audits.answerOwed(owed),
        ...(clusterRate ? { onAuditSamplingRate: (rate: number) => (audits.samplingRate = rate) } : {}),
        onAuditRetention: (retentionMs) => (audits.window.retentionMs = retentionMs),
      });
    }
    log('node_started', {
      nodeId: key.address,
      model: manifest.modelId,
      shard: held.start,
      shardEnd: held.end,
      layers: [layers.start, layers.end],
      tier: layerMs === undefined ? 'unmeasured' : speedTierOf(layerMs),
      layerMs: layerMs === undefined ? undefined : Math.round(layerMs * 1000) / 1000,
      endpoint,
      tls,
      registry: options.registry,
      daemon: options.daemon,
    });
    let closing: Promise<void> | undefined;
    return {
      port,
      endpoint,
      nodeId: key.address,
      health() {
        const details = {
          nodeId: key.address,
          model: manifest.modelId,
          shard: held.start,
          shardEnd: held.end,
          endpoint,
          registry: options.registry ?? null,
          sessions: store.size,
        };
        if (draining) return unhealthy('shutting down: draining its sessions', details);
        if (heartbeatError !== undefined)
          return unhealthy(
            `not listed: the heartbeat to registry ${options.registry} failed: ${heartbeatError}`,
            details,
          );
        return healthy(details);
      },
      close() {
        draining = true;
        closing ??= shutdown().then(() => log('node_stopped', { nodeId: key.address }));
        return closing;
      },
    };
  } catch (error) {
    draining = true;
    await shutdown();
    throw error;
  }
}
