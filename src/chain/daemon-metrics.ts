import type { Counter, CounterChild, Metrics } from '../metrics/metrics.ts';
import type { Chain } from './chain.ts';

/**
 * A daemon's figures: share verdicts and blocks as they happen; height, fee and pending shares read
 * from the chain at each scrape.
 */
export class DaemonMetrics {
  readonly #shares: Counter;
  readonly #accepted: CounterChild;
  readonly #produced: Counter;
  readonly #receivedAccepted: CounterChild;
  readonly #receivedRefused: CounterChild;

  constructor(metrics: Metrics, chain: Chain) {
    this.#shares = metrics.counter({
      name: 'tessera_daemon_shares_total',
      help: 'Compute shares judged, by result: accepted, or the rejection (SHARE_DUPLICATE, SHARE_BAD_SIGNATURE, ...).',
      labelNames: ['result'],
    });
    this.#accepted = this.#shares.labels('accepted');
    this.#produced = metrics.counter({
      name: 'tessera_daemon_blocks_produced_total',
      help: 'Blocks this daemon produced in the slots it led.',
    });
    const received = metrics.counter({
      name: 'tessera_daemon_blocks_received_total',
      help: 'Blocks received from other daemons (pushed or pulled), by result (accepted: stored, or already held).',
      labelNames: ['result'],
    });
    this.#receivedAccepted = received.labels('accepted');
    this.#receivedRefused = received.labels('refused');
    metrics.gauge({
      name: 'tessera_daemon_chain_height',
      help: 'Height of the head of the canonical chain.',
      collect: (set) => set(chain.store.headHeight()),
    });
    metrics.gauge({
      name: 'tessera_daemon_base_fee_per_token',
      help: 'Base price per token of the next block (the fee oracle), in the smallest unit.',
      collect: (set) => set(chain.feeEstimate().next),
    });
    metrics.gauge({
      name: 'tessera_daemon_pending_shares',
      help: 'Accepted shares waiting for a block.',
      collect: (set) => set(chain.store.pendingCount()),
    });
  }

  shares(verdicts: readonly { readonly accepted: boolean; readonly rejection?: string }[]): void {
    for (const verdict of verdicts) {
      if (verdict.accepted) this.#accepted.inc();
      else this.#shares.labels(verdict.rejection ?? 'unspecified').inc();
    }
  }

  blockProduced(): void {
    this.#produced.inc();
  }

  blockReceived(accepted: boolean): void {
    (accepted ? this.#receivedAccepted : this.#receivedRefused).inc();
  }
}
