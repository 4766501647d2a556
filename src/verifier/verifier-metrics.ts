import type { Counter, CounterChild, HistogramChild, Metrics } from '../metrics/metrics.ts';

/** Recomputing a ticket runs one shard over the ticket's positions: like a node's prefill step. */
const RECOMPUTE_SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** A verifier's figures, counted as tickets are audited. */
export class VerifierMetrics {
  readonly #match: CounterChild;
  readonly #mismatch: CounterChild;
  readonly #failed: CounterChild;
  readonly #seconds: HistogramChild;
  readonly #passes: Counter;
  readonly #proofs: Counter;
  readonly #pullFailures: Counter;

  constructor(metrics: Metrics) {
    const audited = metrics.counter({
      name: 'tessera_verifier_tickets_audited_total',
      help: 'Tickets recomputed, by result: match (the committed output hash), mismatch (a fraud proof follows), failed (could not be recomputed; the lease runs out).',
      labelNames: ['result'],
    });
    this.#match = audited.labels('match');
    this.#mismatch = audited.labels('mismatch');
    this.#failed = audited.labels('failed');
    this.#seconds = metrics
      .histogram({
        name: 'tessera_verifier_recompute_seconds',
        help: 'Time to open and recompute one ticket, in seconds.',
        buckets: RECOMPUTE_SECONDS_BUCKETS,
      })
      .labels();
    this.#passes = metrics.counter({
      name: 'tessera_verifier_passes_reported_total',
      help: 'Audited passes the registry recorded.',
    });
    this.#proofs = metrics.counter({
      name: 'tessera_verifier_fraud_proofs_total',
      help: "Fraud proofs filed, by the registry's verdict (PROOF_CONFIRMED, PROOF_REFUTED, PROOF_UNCONFIRMED).",
      labelNames: ['status'],
    });
    this.#pullFailures = metrics.counter({
      name: 'tessera_verifier_pull_failures_total',
      help: 'Ticket pulls from the registry that failed.',
    });
  }

  /** A ticket recomputed in `seconds`: its output `matched` the committed hash or not. */
  audited(seconds: number, matched: boolean): void {
    this.#seconds.observe(seconds);
    (matched ? this.#match : this.#mismatch).inc();
  }

  /** A ticket that could not be recomputed (or its fraud proof not filed). */
  failed(): void {
    this.#failed.inc();
  }

  passesReported(count: number): void {
    this.#passes.inc(count);
  }

  proofFiled(status: string): void {
    this.#proofs.labels(status).inc();
  }

  pullFailed(): void {
    this.#pullFailures.inc();
  }
}
