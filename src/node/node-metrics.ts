import { status as grpcStatus } from '@grpc/grpc-js';
import type { Counter, CounterChild, HistogramChild, Metrics } from '../metrics/metrics.ts';
import type { NodeAudits } from './node-audits.ts';
import { NODE_STATES, type NodeState } from './node-state.ts';
import type { SessionStore } from './session-store.ts';
import type { ShareSubmitter } from './share-submitter.ts';

/** Compute time of one step's layers: from well under a millisecond (tiny shards) to seconds (long prefills). */
const FORWARD_SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface NodeMetricsState {
  readonly store: SessionStore;
  readonly cacheBytes: number;
  readonly audits: NodeAudits;
  readonly shares?: ShareSubmitter;
  readonly state: NodeState;
}

interface StepKind {
  readonly steps: CounterChild;
  readonly seconds: HistogramChild;
}

/**
 * A compute node's figures: steps and tokens as they happen, sessions, KV-cache bytes, shares and
 * tickets read from their owners at each scrape.
 */
export class NodeMetrics {
  readonly #prefill: StepKind;
  readonly #decode: StepKind;
  readonly #tokens: Counter;
  readonly #errors: Counter;

  constructor(metrics: Metrics, state: NodeMetricsState) {
    const steps = metrics.counter({
      name: 'tessera_node_forward_steps_total',
      help: 'Forward steps run by this shard, by kind (prefill: a step from position 0 or of several positions; decode: one position).',
      labelNames: ['kind'],
    });
    const seconds = metrics.histogram({
      name: 'tessera_node_forward_seconds',
      help: "Compute time of this shard's layers per step, in seconds.",
      labelNames: ['kind'],
      buckets: FORWARD_SECONDS_BUCKETS,
    });
    this.#prefill = { steps: steps.labels('prefill'), seconds: seconds.labels('prefill') };
    this.#decode = { steps: steps.labels('decode'), seconds: seconds.labels('decode') };
    this.#tokens = metrics.counter({
      name: 'tessera_node_tokens_processed_total',
      help: "Positions (tokens) run through this shard's layers.",
    });
    this.#errors = metrics.counter({
      name: 'tessera_node_stream_errors_total',
      help: 'Forward streams this node ended with an error status, by gRPC code.',
      labelNames: ['code'],
    });
    metrics.gauge({
      name: 'tessera_node_state',
      help: 'The node state (READY, EXECUTING, IDLE, UNSTAKING): 1 for the current one, 0 for the others.',
      labelNames: ['state'],
      collect: (set) => {
        const current = state.state.update();
        for (const name of NODE_STATES) set(name === current ? 1 : 0, name);
      },
    });
    metrics.gauge({
      name: 'tessera_node_sessions_open',
      help: 'Sessions holding a KV cache on this node.',
      collect: (set) => set(state.store.size),
    });
    metrics.gauge({
      name: 'tessera_node_kv_cache_bytes',
      help: 'KV-cache bytes in use by all sessions.',
      collect: (set) => set(state.store.totalBytes),
    });
    metrics.gauge({
      name: 'tessera_node_kv_cache_budget_bytes',
      help: 'KV-cache bytes allowed for all sessions together.',
      collect: (set) => set(state.cacheBytes),
    });
    metrics.counter({
      name: 'tessera_node_shares_submitted_total',
      help: 'Compute shares signed and queued for the daemon.',
      collect: (set) => set(state.shares?.submitted ?? 0),
    });
    metrics.counter({
      name: 'tessera_node_shares_acknowledged_total',
      help: 'Compute shares the daemon acknowledged as durable.',
      collect: (set) => set(state.shares?.accepted ?? 0),
    });
    metrics.counter({
      name: 'tessera_node_tickets_submitted_total',
      help: 'Audit tickets the registry took.',
      collect: (set) => set(state.audits.ticketsSubmitted),
    });
  }

  /** A step's compute: `positions` tokens from `startPosition`, in `microseconds`. */
  step(microseconds: number, positions: number, startPosition: number): void {
    const kind = startPosition === 0 || positions > 1 ? this.#prefill : this.#decode;
    kind.steps.inc();
    kind.seconds.observe(microseconds / 1e6);
    this.#tokens.inc(positions);
  }

  /** A Forward stream ended with this status code. */
  streamFailed(code: grpcStatus): void {
    this.#errors.labels(grpcStatus[code] ?? String(code)).inc();
  }
}
