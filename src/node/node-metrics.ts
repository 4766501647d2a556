import { status as grpcStatus } from '@grpc/grpc-js';
import type { Counter, CounterChild, HistogramChild, Metrics } from '../metrics/metrics.ts';
import type { NodeAudits } from './node-audits.ts';
import { NODE_STATES, type NodeState } from './node-state.ts';
import type { SessionStore } from './session-store.ts';
import type { ShareSubmitter } from './share-submitter.ts';
import type { ShardSpan } from '../model/shards/span.ts';

/** Compute time of one step's layers: from well under a millisecond (tiny shards) to seconds (long prefills). */
const FORWARD_SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface NodeMetricsState {
  readonly store: SessionStore;
  readonly cacheBytes: number;
  readonly audits: NodeAudits;
  readonly shares?: ShareSubmitter;
  readonly state: NodeState;
  /** The span of shards the node holds: a rebalancing move changes it within one process. */
  readonly shard: {
    readonly modelId: string;
    readonly span: ShardSpan;
    readonly layerStart: number;
    readonly layerEnd: number;
    readonly role: string;
  };
}

interface StepKind {
  readonly steps: CounterChild;
  readonly seconds: HistogramChild;
}

/** A node's counts that its owners keep (they start at 0 with each node a move starts). */
interface OwnedCounts {
  submitted: number;
  acknowledged: number;
  tickets: number;
}

const ownedCounts = (state: NodeMetricsState): OwnedCounts => ({
  submitted: state.shares?.submitted ?? 0,
  acknowledged: state.shares?.accepted ?? 0,
  tickets: state.audits.ticketsSubmitted,
});

/**
 * The figures of one process's node, defined once in its Metrics: a rebalancing move closes the node
 * and starts another on the new shard in the same process, and the figures must follow that node
 * (its shard, sessions, state) while the counts carry on from the nodes it served before.
 */
class NodeFigures {
  readonly prefill: StepKind;
  readonly decode: StepKind;
  readonly tokens: Counter;
  readonly errors: Counter;
  #state!: NodeMetricsState;
  /** What the nodes served before this one counted. */
  readonly #before: OwnedCounts = { submitted: 0, acknowledged: 0, tickets: 0 };

  constructor(metrics: Metrics) {
    const steps = metrics.counter({
      name: 'tessera_node_forward_steps_total',
      help: 'Forward steps run by this node, by kind (prefill: a step from position 0 or of several positions; decode: one position).',
      labelNames: ['kind'],
    });
    const seconds = metrics.histogram({
      name: 'tessera_node_forward_seconds',
      help: "Compute time of a hop's layers per step, in seconds.",
      labelNames: ['kind'],
      buckets: FORWARD_SECONDS_BUCKETS,
    });
    this.prefill = { steps: steps.labels('prefill'), seconds: seconds.labels('prefill') };
    this.decode = { steps: steps.labels('decode'), seconds: seconds.labels('decode') };
    this.tokens = metrics.counter({
      name: 'tessera_node_tokens_processed_total',
      help: "Positions (tokens) run through this node's layers.",
    });
    this.errors = metrics.counter({
      name: 'tessera_node_stream_errors_total',
      help: 'Forward streams this node ended with an error status, by gRPC code.',
      labelNames: ['code'],
    });
    metrics.gauge({
      name: 'tessera_node_shard',
      help: 'The shards this node holds now (1), by model, shards (K, or A-B with both included), layer range and role; a rebalancing move changes it.',
      labelNames: ['model', 'shard', 'layers', 'role'],
      collect: (set) => {
        const { modelId, span, layerStart, layerEnd, role } = this.#state.shard;
        const shards = span.end - span.start === 1 ? String(span.start) : `${span.start}-${span.end - 1}`;
        set(1, modelId, shards, `${layerStart}-${layerEnd - 1}`, role);
      },
    });
    metrics.gauge({
      name: 'tessera_node_state',
      help: 'The node state (READY, EXECUTING, IDLE, UNSTAKING): 1 for the current one, 0 for the others.',
      labelNames: ['state'],
      collect: (set) => {
        const current = this.#state.state.update();
        for (const name of NODE_STATES) set(name === current ? 1 : 0, name);
      },
    });
    metrics.gauge({
      name: 'tessera_node_sessions_open',
      help: 'Sessions holding a KV cache on this node.',
      collect: (set) => set(this.#state.store.size),
    });
    metrics.gauge({
      name: 'tessera_node_kv_cache_bytes',
      help: 'KV-cache bytes in use by all sessions.',
      collect: (set) => set(this.#state.store.totalBytes),
    });
    metrics.gauge({
      name: 'tessera_node_kv_cache_budget_bytes',
      help: 'KV-cache bytes allowed for all sessions together.',
      collect: (set) => set(this.#state.cacheBytes),
    });
    metrics.counter({
      name: 'tessera_node_shares_submitted_total',
      help: 'Compute shares signed and queued for the daemon.',
      collect: (set) => set(this.#before.submitted + ownedCounts(this.#state).submitted),
    });
    metrics.counter({
      name: 'tessera_node_shares_acknowledged_total',
      help: 'Compute shares the daemon acknowledged as durable.',
      collect: (set) => set(this.#before.acknowledged + ownedCounts(this.#state).acknowledged),
    });
    metrics.counter({
      name: 'tessera_node_tickets_submitted_total',
      help: 'Audit tickets the registry took.',
      collect: (set) => set(this.#before.tickets + ownedCounts(this.#state).tickets),
    });
  }

  /** From now on the figures read `state`; what the node before it counted stays counted. */
  follow(state: NodeMetricsState): void {
    if (this.#state !== undefined) {
      const last = ownedCounts(this.#state);
      this.#before.submitted += last.submitted;
      this.#before.acknowledged += last.acknowledged;
      this.#before.tickets += last.tickets;
    }
    this.#state = state;
  }
}

const figuresOf = new WeakMap<Metrics, NodeFigures>();

/**
 * A compute node's figures: steps and tokens as they happen, the shards it holds, sessions, KV-cache bytes,
 * shares and tickets read from their owners at each scrape. A second node started with the same
 * Metrics (a rebalancing move) takes the figures over.
 */
export class NodeMetrics {
  readonly #figures: NodeFigures;

  constructor(metrics: Metrics, state: NodeMetricsState) {
    let figures = figuresOf.get(metrics);
    if (figures === undefined) {
      figures = new NodeFigures(metrics);
      figuresOf.set(metrics, figures);
    }
    figures.follow(state);
    this.#figures = figures;
  }

  /** A step's compute: `positions` tokens from `startPosition`, in `microseconds`. */
  step(microseconds: number, positions: number, startPosition: number): void {
    const kind = startPosition === 0 || positions > 1 ? this.#figures.prefill : this.#figures.decode;
    kind.steps.inc();
    kind.seconds.observe(microseconds / 1e6);
    this.#figures.tokens.inc(positions);
  }

  /** A Forward stream ended with this status code. */
  streamFailed(code: grpcStatus): void {
    this.#figures.errors.labels(grpcStatus[code] ?? String(code)).inc();
  }
}
