import type Database from 'better-sqlite3';
import type { Counter, Metrics } from '../metrics/metrics.ts';
import type { AnnouncementKind } from './announcement.ts';
import type { SettlementEvent } from './settlement.ts';
import { SHARD_END } from './store.ts';

export interface RegistryMetricsState {
  /** The registry's database: nodes, audit tickets and fraud proofs are read from it at each scrape. */
  readonly db: Database.Database;
  /** Every served model with its shard count, so a shard without nodes shows 0. */
  readonly models: readonly { readonly modelId: string; readonly shards: number }[];
  /** How long a node may stay silent and still count as live. */
  readonly silenceLimitMs: number;
}

/**
 * A registry's figures: admissions as they are decided, settlements as they happen, and what the
 * database holds (live nodes, the ticket queue, fraud proofs) read at each scrape.
 */
export class RegistryMetrics {
  readonly #admissions: Counter;
  readonly #settlements: Counter;

  constructor(metrics: Metrics, state: RegistryMetricsState) {
    const { db } = state;
    this.#admissions = metrics.counter({
      name: 'tessera_registry_admissions_total',
      help: 'Signed Register/Heartbeat/Unregister calls by kind and result: accepted, rate_limited, or the gRPC code of the refusal.',
      labelNames: ['kind', 'result'],
    });
    for (const kind of ['register', 'heartbeat', 'unregister']) this.#admissions.labels(kind, 'accepted');
    this.#settlements = metrics.counter({
      name: 'tessera_registry_settlements_total',
      help: 'Settlement events: windows posted, finalized and challenged; rejected counts each daemon whose blocks of a window failed the registry check.',
      labelNames: ['status'],
    });
    for (const status of ['posted', 'finalized', 'challenged', 'rejected']) this.#settlements.labels(status);

    const liveNodes = db.prepare(
      `SELECT model_id AS modelId, shard_index AS start, ${SHARD_END} AS end, COUNT(*) AS n FROM nodes
       WHERE role = 'node' AND status = 'live' AND last_seen_ms >= ? GROUP BY model_id, shard_index, ${SHARD_END}`,
    );
    metrics.gauge({
      name: 'tessera_registry_live_nodes',
      help: 'Compute nodes heard from within the heartbeat limit, by model and shard: each counts under every shard of the span it holds.',
      labelNames: ['model', 'shard'],
      collect: (set) => {
        const counts = new Map<string, number>();
        for (const row of liveNodes.all(Date.now() - state.silenceLimitMs) as {
          modelId: string;
          start: number;
          end: number;
          n: number;
        }[])
          for (let shard = row.start; shard < row.end; shard++) {
            const key = `${row.modelId}/${shard}`;
            counts.set(key, (counts.get(key) ?? 0) + row.n);
          }
        for (const { modelId, shards } of state.models) {
          for (let shard = 0; shard < shards; shard++)
            set(counts.get(`${modelId}/${shard}`) ?? 0, modelId, String(shard));
        }
      },
    });
    const liveMembers = db.prepare(
      "SELECT role, COUNT(*) AS n FROM nodes WHERE role != 'node' AND status = 'live' AND last_seen_ms >= ? GROUP BY role",
    );
    metrics.gauge({
      name: 'tessera_registry_live_members',
      help: 'Daemons and verifiers heard from within the heartbeat limit, by role.',
      labelNames: ['role'],
      collect: (set) => {
        const counts = new Map(
          (liveMembers.all(Date.now() - state.silenceLimitMs) as { role: string; n: number }[]).map((r) => [
            r.role,
            r.n,
          ]),
        );
        for (const role of ['daemon', 'verifier']) set(counts.get(role) ?? 0, role);
      },
    });
    const queued = db.prepare("SELECT COUNT(*) AS n FROM audit_tickets WHERE status = 'queued'");
    metrics.gauge({
      name: 'tessera_registry_tickets_queued',
      help: 'Audit tickets waiting for a verifier.',
      collect: (set) => set((queued.get() as { n: number }).n),
    });
    const proofs = db.prepare('SELECT status, COUNT(*) AS n FROM audit_proofs GROUP BY status');
    metrics.counter({
      name: 'tessera_registry_fraud_proofs_total',
      help: 'Fraud proofs on record, by outcome (confirmed: slashed and evicted; refuted; unconfirmed).',
      labelNames: ['outcome'],
      collect: (set) => {
        const counts = new Map((proofs.all() as { status: string; n: number }[]).map((r) => [r.status, r.n]));
        for (const outcome of ['confirmed', 'refuted', 'unconfirmed']) set(counts.get(outcome) ?? 0, outcome);
      },
    });
  }

  /** A signed announcement: `result` is accepted, rate_limited, or the gRPC code name it was refused with. */
  admission(kind: AnnouncementKind, result: string): void {
    this.#admissions.labels(kind, result).inc();
  }

  settlement(event: SettlementEvent): void {
    this.#settlements.labels(event).inc();
  }
}
