import { jsonLogger } from '../core/log.ts';
import type { Logger } from '../core/log.ts';
import { randomBytes } from 'node:crypto';
import { ENGINE_VERSION } from '../model/engine-version.ts';
import { FORWARD_PROTOCOL } from '../protocol/version.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditClient } from '../audit/audit-client.ts';
import { requestAudits, SessionAudit } from '../audit/session-audit.ts';
import { generateKeyPair, type KeyPair } from '../crypto/keys.ts';
import type { ChatMessage } from '../model/chat-template.ts';
import type { SamplingOptions } from '../model/sampling.ts';
import { spanContains, spanOf, spanOfShard, spanSha256 } from '../model/shards/span.ts';
import type { Commitment__Output } from '../proto/tessera/v1/Commitment.ts';
import type { DiscoveredNode, ModelListing } from '../registry/registry-client.ts';
import { BanList } from './ban-list.ts';
import { blame } from './blame.ts';
import { generateThroughNetwork, type GeneratedToken, type GenerationSummary } from './generation.ts';
import { encodePrompt, modelHandleFromManifest, type ModelHandle } from './model-handle.ts';
import { NodePool, type Probe } from './node-pool.ts';
import { PipelineSession, type HopFailure, type SessionAuditing } from './pipeline-session.ts';
import { RegistryPool } from './registry-pool.ts';
import { chooseRoute, NoRouteError, type Candidate, type RouteHop } from './routing.ts';
import { ServiceRecord } from './service-record.ts';
import { SignatureChecker } from './signature-checker.ts';
import { ShardZeroCheck } from './shard-zero-check.ts';

export interface ConnectOptions {
  /** Seed registries, HOST:PORT; the others are learned from them. */
  readonly registries: readonly string[];
  /** Where tokenizer files from the registries are kept (default: a folder in the OS temp dir). */
  readonly cacheDir?: string;
  /** Deadline of a registry call (default 5 s). */
  readonly registryDeadlineMs?: number;
  /** How long a node may take to answer Info before it counts as unreachable (default 1 s). */
  readonly probeTimeoutMs?: number;
  /** How long one step may take end to end (default 120 s: a long prefill on a big model). */
  readonly stepTimeoutMs?: number;
  /** How long a failed node is avoided (default 60 s). */
  readonly banMs?: number;
  /** After a failure, how long to wait for the failed node's shards to get a node again (default 5 s). */
  readonly routeWaitMs?: number;
  /** Root certificates for nodes that advertise TLS (default: the system's). */
  readonly tlsRootCerts?: Buffer;
  /** Signs the client's usage receipts (the account that pays); default: a new key per client. */
  readonly key?: KeyPair;
  /** Where the client reports what it does not raise, such as a refused audit request (default: JSON lines on stderr). */
  readonly log?: Logger;
  /**
   * A shards directory holding the model's first shards: the client recomputes the audit-selected
   * steps of the hop that takes the prompt (its span starts at shard 0, and no ticket of its steps
   * leaves the session) off the critical path, bans a node whose output differs and files the
   * evidence (src/client/shard-zero-check.ts). A step is checked when the directory holds every
   * shard of that hop's span. Without it nobody checks that hop for this client's sessions.
   */
  readonly auditShardZero?: string;
}

export interface GenerateRequest extends SamplingOptions {
  readonly model: string;
  /** Plain text to continue, or ... */
  readonly prompt?: string;
  /** ... a conversation, rendered with the model's chat template. */
  readonly messages?: readonly ChatMessage[];
  /** Default 64. */
  readonly maxTokens?: number;
  /** How many top alternatives to report per token (0: none). */
  readonly logprobs?: number;
}

export interface ShardCoverage {
  readonly shardIndex: number;
  readonly layerStart: number;
  readonly layerEnd: number;
  /** The live nodes whose held span contains this shard. */
  readonly nodes: readonly DiscoveredNode[];
}

export interface ModelStatus extends ModelListing {
  readonly shardsCoverage: readonly ShardCoverage[];
  /** Shards no live node that may get work holds: the model cannot answer until they get one. */
  readonly uncovered: readonly number[];
}

export interface ClusterStatus {
  readonly registries: readonly string[];
  readonly models: readonly ModelStatus[];
}

/** A stream of generated tokens; `summary` is set once the stream has run to its end. */
export class Generation implements AsyncIterable<GeneratedToken> {
  summary?: GenerationSummary;
  /** Tokens in the prompt, known once reading has started (even when the reader stops early). */
  promptTokens?: number;
  private started = false;

  constructor(
    private readonly start: () => Promise<{
      promptTokens: number;
      stream: AsyncGenerator<GeneratedToken, GenerationSummary>;
    }>,
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<GeneratedToken, void> {
    if (this.started) throw new Error('a generation can be read only once');
    this.started = true;
    const { promptTokens, stream } = await this.start();
    this.promptTokens = promptTokens;
    this.summary = yield* stream;
  }

  /** Reads the whole generation. */
  async collect(): Promise<{ tokens: GeneratedToken[]; summary: GenerationSummary }> {
    const tokens: GeneratedToken[] = [];
    for await (const token of this) tokens.push(token);
    return { tokens, summary: this.summary! };
  }
}

/** A client of a Tessera network: discovery, routing, sessions and failover. */
export class TesseraClient {
  private readonly nodes: NodePool;
  private readonly bans: BanList;
  private readonly handles = new Map<string, Promise<ModelHandle>>();
  private readonly key: KeyPair;
  private readonly signatures = new SignatureChecker();
  /** How each node served this client: route choice trusts this, not what nodes say of themselves. */
  private readonly service = new ServiceRecord();
  private readonly cacheDir: string;
  private readonly probeTimeoutMs: number;
  private readonly stepTimeoutMs: number;
  private readonly routeWaitMs: number;
  private readonly log: Logger;
  /** One per registry that audit requests went to. */
  private readonly auditClients = new Map<string, AuditClient>();
  private readonly shardZero?: ShardZeroCheck;

  constructor(
    private readonly registryPool: RegistryPool,
    options: ConnectOptions,
  ) {
    this.key = options.key ?? generateKeyPair();
    this.nodes = new NodePool(options.tlsRootCerts);
    this.bans = new BanList(options.banMs ?? 60_000);
    this.cacheDir = options.cacheDir ?? join(tmpdir(), 'tessera-client');
    this.probeTimeoutMs = options.probeTimeoutMs ?? 1000;
    this.stepTimeoutMs = options.stepTimeoutMs ?? 120_000;
    this.routeWaitMs = options.routeWaitMs ?? 5000;
    this.log = options.log ?? jsonLogger('client');
    if (options.auditShardZero !== undefined)
      this.shardZero = new ShardZeroCheck({
        shardsDir: options.auditShardZero,
        key: this.key,
        log: this.log,
        ban: (nodeId) => {
          this.bans.ban(nodeId, Number.POSITIVE_INFINITY);
          this.service.failed(nodeId);
        },
        registry: (endpoint) => this.auditClient(endpoint),
      });
  }

  /** The client's checks of the hop that takes the prompt so far (none without `auditShardZero`). */
  get shardZeroChecks(): ShardZeroCheck | undefined {
    return this.shardZero;
  }

  /** The registries known so far (seeds and those learned from them). */
  get registries(): readonly string[] {
    return this.registryPool.endpoints;
  }

  models(): Promise<ModelListing[]> {
    return this.registryPool.call((r) => r.listModels());
  }

  /** The model's manifest, tokenizer and chat template (fetched once per client). */
  model(modelId: string): Promise<ModelHandle> {
    let handle = this.handles.get(modelId);
    if (!handle) {
      handle = this.registryPool
        .call((r) => r.getManifest(modelId).then((m) => ({ ...m, from: r.endpoint })), modelId)
        .then((m) =>
          modelHandleFromManifest(
            m.manifest,
            m.tokenizerGguf,
            this.cacheDir,
            `model ${modelId} from registry ${m.from}`,
          ),
        );
      handle.catch(() => this.handles.delete(modelId));
      this.handles.set(modelId, handle);
    }
    return handle;
  }

  /**
   * Registries, models, the live nodes holding each shard (with those that get no new work, such as
   * unstaking ones; a node holding a span is listed at each of its shards) and the shards no node
   * that may get work holds.
   */
  async status(): Promise<ClusterStatus> {
    await this.registryPool.exchangePeers();
    const listed = await this.models();
    const models = await Promise.all(
      listed.map(async (listing) => {
        const { manifest, nodes } = await this.registryPool.call(
          (r) => r.discover(listing.modelId, { includeIneligible: true }),
          listing.modelId,
        );
        const shardsCoverage = manifest.shards.map((s) => ({
          shardIndex: s.index,
          layerStart: s.layerStart,
          layerEnd: s.layerEnd,
          nodes: nodes.filter((n) => spanContains(spanOf(n), spanOfShard(s.index))),
        }));
        return {
          ...listing,
          shardsCoverage,
          uncovered: shardsCoverage.filter((s) => !s.nodes.some((n) => n.eligible !== false)).map((s) => s.shardIndex),
        };
      }),
    );
    return { registries: this.registries, models };
  }

  generate(request: GenerateRequest): Generation {
    return new Generation(async () => {
      const model = await this.model(request.model);
      const promptIds = encodePrompt(model, request);
      const stream = generateThroughNetwork(this.sessionSource(request), model, promptIds, {
        ...request,
        maxTokens: request.maxTokens ?? 64,
      });
      return { promptTokens: promptIds.length, stream };
    });
  }

  close(): void {
    this.nodes.close();
    this.registryPool.close();
    for (const audits of this.auditClients.values()) audits.close();
    void this.shardZero?.close();
  }

  private sessionSource(request: GenerateRequest) {
    return {
      maxFailovers: 8,
      open: (model: ModelHandle, afterFailure: boolean) => this.openSession(model, request, afterFailure),
      recover: (route: readonly RouteHop[], failure: HopFailure) => this.recover(route, failure),
      revealAudit: (session: PipelineSession, commitments: readonly Commitment__Output[], tokens: readonly number[]) =>
        this.revealAudit(session, commitments, tokens, request.model),
      checkSignatures: (commitments: readonly Commitment__Output[]) => this.signatures.check(commitments),
      served: (route: readonly RouteHop[], elapsedUs: number, positions: number) =>
        this.service.served(route, elapsedUs, positions),
    };
  }

  /**
   * Live nodes of the model, each with the span it holds, a fresh round-trip measure (Info) and this
   * client's record of their service; those that do not answer, or answer for another span than
   * discovery listed, have no round trip. With them, the cluster's audit sampling rate and the
   * registry that answered. Discovery lists only nodes whose stake meets the cluster's minimum where
   * the registry keeps stakes (src/registry/stake-gate.ts); its reply says nothing of stakes, so the
   * client cannot check them itself and relies on that.
   */
  private async candidates(
    model: ModelHandle,
  ): Promise<{ candidates: Candidate[]; auditSamplingRate: number; registry: string }> {
    const modelId = model.manifest.modelId;
    const { nodes, auditSamplingRate, registry } = await this.registryPool.call(
      (r) => r.discover(modelId).then((d) => ({ ...d, registry: r.endpoint })),
      modelId,
    );
    const candidates = await Promise.all(
      nodes.map(async (node): Promise<Candidate> => {
        const { usPerShard, goodSteps } = this.service.of(node.nodeId);
        // measured per shard run; routing takes a measure of the whole held span
        const heldShards = node.shardEnd - node.shardIndex;
        const measured = {
          goodSteps,
          ...(usPerShard === undefined ? {} : { measuredUsPerToken: usPerShard * heldShards }),
        };
        // a node set aside is not probed; chooseRoute leaves it out and says the shard may free up
        if (this.bans.isBanned(node.nodeId)) return { ...node, ...measured, rttUs: undefined };
        const probe = await this.nodes.probe(node.endpoint, this.probeTimeoutMs, node.tls, PROBE_MAX_AGE_MS);
        if (!probe || !this.probeMatches(probe, node, model)) return { ...node, ...measured, rttUs: undefined };
        // the node's own count is fresher than the registry's last heartbeat
        return {
          ...node,
          ...measured,
          activeSessions: probe.info.activeSessions,
          maxSessions: probe.info.maxSessions,
          rttUs: probe.rttUs,
        };
      }),
    );
    return { candidates, auditSamplingRate, registry };
  }

  /**
   * The node answers as the one discovery listed (same key, model and held span) and runs this
   * client's engine version: another version computes other bytes, which neither this client's
   * check of the first hop nor a verifier of this version could recompute, so a node could dodge
   * both by naming one. It follows this client's Forward rules too: a node of other rules signs and
   * checks signatures otherwise, so its hops and this client would refuse each other's steps.
   */
  private probeMatches(probe: Probe, node: DiscoveredNode, model: ModelHandle): boolean {
    return (
      probe.info.nodeId === node.nodeId &&
      probe.info.modelId === model.manifest.modelId &&
      probe.info.shardIndex === node.shardIndex &&
      probe.info.shardEnd === node.shardEnd &&
      probe.info.engineVersion === ENGINE_VERSION &&
      probe.info.forwardProtocol === FORWARD_PROTOCOL
    );
  }

  /**
   * A first open waits for a route only while the nodes holding its missing shards are full or set
   * aside for a moment (their sessions end a moment after their generations); a shard nobody holds
   * is said at once. After a failure it waits either way: the shard may be between nodes.
   */
  private async openSession(
    model: ModelHandle,
    request: GenerateRequest,
    afterFailure: boolean,
  ): Promise<PipelineSession> {
    const deadline = Date.now() + this.routeWaitMs;
    for (;;) {
      const { candidates, auditSamplingRate, registry } = await this.candidates(model);
      try {
        const route = chooseRoute(
          model.manifest.modelId,
          model.manifest.shards.length,
          candidates,
          this.bans.current(),
        );
        // a fresh secret per session: a replay on a new route must not reuse a revealed one
        const auditing: SessionAuditing | undefined =
          auditSamplingRate > 0 ? { audit: new SessionAudit(auditSamplingRate), registry } : undefined;
        return new PipelineSession(
          this.nodes,
          randomBytes(16).toString('hex'),
          route,
          {
            modelId: model.manifest.modelId,
            sampling: {
              temperature: request.temperature ?? 0,
              topK: request.topK ?? 0,
              topP: request.topP ?? 1,
              minP: request.minP ?? 0,
              repetitionPenalty: request.repetitionPenalty ?? 1,
              seed: request.seed ?? 0,
              logprobs: request.logprobs ?? 0,
            },
            clientKey: this.key,
          },
          this.stepTimeoutMs,
          auditing,
        );
      } catch (error) {
        if (!(error instanceof NoRouteError) || Date.now() >= deadline || !(afterFailure || error.transient))
          throw error;
        await new Promise((resolve) => setTimeout(resolve, ROUTE_RETRY_MS));
      }
    }
  }

  /**
   * Reveals the session's audit secret, then asks the registry for the audits it selects, in the
   * background: a selected step whose ticket never reaches the registry then stands there as the
   * node's refusal. A refused request is logged; it never fails the generation.
   */
  private revealAudit(
    session: PipelineSession,
    commitments: readonly Commitment__Output[],
    tokens: readonly number[],
    modelId: string,
  ): void {
    const auditing = session.auditing;
    if (!auditing) return;
    const { secret, rate } = auditing.audit;
    const shardZero = this.shardZero;
    const first = session.route[0];
    if (shardZero && commitments[0] !== undefined && first !== undefined) {
      const commitment = commitments[0];
      const span = spanOf(first);
      // the handle is open already: this session's steps were tokenized with it
      void this.model(modelId)
        .then((handle) =>
          shardZero.check({
            registry: auditing.registry,
            modelId,
            span,
            shardSha256: spanSha256(handle.manifest, span),
            secret,
            rate,
            tokens,
            commitment,
          }),
        )
        .catch((error: Error) => this.log('shard_zero_check_skipped', { nodeId: first.nodeId, error: error.message }));
    }
    if (!session.reveal(auditing.audit.revealRequest())) return;
    void requestAudits(this.auditClient(auditing.registry), this.key, auditing.audit, commitments).then(
      (outcomes) => {
        for (const outcome of outcomes) {
          if (outcome.error !== undefined)
            this.log('audit_request_failed', {
              registry: auditing.registry,
              nodeId: outcome.nodeId,
              shardIndex: outcome.shardIndex,
              reason: outcome.reason,
              error: outcome.error,
            });
        }
      },
      (error: Error) => this.log('audit_request_failed', { registry: auditing.registry, error: error.message }),
    );
  }

  private auditClient(endpoint: string): AuditClient {
    let client = this.auditClients.get(endpoint);
    if (!client) {
      client = new AuditClient(endpoint);
      this.auditClients.set(endpoint, client);
    }
    return client;
  }

  /** Bans whom the failure is pinned on (see blame), and waits when a node was only busy. */
  private async recover(route: readonly RouteHop[], failure: HopFailure): Promise<void> {
    const verdict = await blame(route, failure, async (hop) => {
      const probe = await this.nodes.probe(hop.endpoint, this.probeTimeoutMs, hop.tls);
      return probe !== undefined && probe.info.nodeId === hop.nodeId;
    });
    for (const ban of verdict.bans) {
      this.bans.ban(ban.nodeId, ban.durationMs);
      if (ban.durationMs === undefined) this.service.failed(ban.nodeId);
    }
    if (verdict.reprobe) for (const hop of route) this.nodes.forget(hop.endpoint);
    if (verdict.waitMs > 0) await new Promise((resolve) => setTimeout(resolve, verdict.waitMs));
  }
}

const ROUTE_RETRY_MS = 200;
/** How long a node's measured round trip and load stay good for route choice. */
const PROBE_MAX_AGE_MS = 2000;

/** Connects to a network through its registries and learns the other registries they know. */
export async function connect(options: ConnectOptions): Promise<TesseraClient> {
  const pool = new RegistryPool(options.registries, options.registryDeadlineMs ?? 5000);
  try {
    await pool.exchangePeers();
  } catch (error) {
    pool.close();
    throw error;
  }
  return new TesseraClient(pool, options);
}
