import type { Logger } from '../core/log.ts';
import type { ServiceError } from '@grpc/grpc-js';
import { DaemonClient } from '../chain/daemon-client.ts';
import { receiptHashOf } from '../protocol/receipt.ts';
import type { SignedRecord } from '../protocol/record.ts';
import { shareHashOf } from '../protocol/share.ts';
import { signStatement } from '../protocol/share-batch.ts';
import type { KeyPair } from '../crypto/keys.ts';
import type { ShareStore } from './node-db.ts';

export interface ShareSubmitterOptions {
  /** HOST:PORT of the share-chain daemon. */
  readonly daemon: string;
  /** The share key the node registered: it signs each batch it sends. */
  readonly key: KeyPair;
  /** How often queued shares are sent. Default 1 s. */
  readonly flushIntervalMs?: number;
  /** Most shares held while the daemon does not acknowledge them; the oldest go first beyond it. Default 100 000. */
  readonly maxQueued?: number;
  readonly log: Logger;
  /**
   * Where queued shares survive a restart: written when queued (before the client's receipt is
   * answered for), removed once the daemon has answered for them. None: memory only.
   */
  readonly store?: ShareStore;
}

interface Queued {
  readonly share: Uint8Array;
  /** sha256 of the share, hex: what the batch's statement lists. */
  readonly hash: string;
  readonly receipt: SignedRecord;
  /** Rejections that may pass (the daemon's view of the registry lags a fresh registration). */
  transientRejections: number;
  /** Its row in the store, when there is one. */
  readonly rowId?: number;
}

/** Shares per SubmitShares call, well under the daemon's limit. */
const BATCH = 5_000;
/** A node the daemon does not know yet may have registered a moment ago: retry a few flushes. */
const TRANSIENT = new Set(['SHARE_UNKNOWN_NODE', 'SHARE_EVICTED_NODE']);
const MAX_TRANSIENT_REJECTIONS = 10;

/**
 * Sends a node's shares, with the receipts they reference, to the daemon in batches, each signed once
 * with a statement that lists its shares. A share leaves the queue once the daemon acknowledges it
 * (accepted, or a duplicate of one it already accepted) or rejects it for good; a daemon that cannot
 * be reached keeps everything queued.
 */
export class ShareSubmitter {
  readonly #client: DaemonClient;
  readonly #key: KeyPair;
  readonly #log: ShareSubmitterOptions['log'];
  readonly #maxQueued: number;
  readonly #timer: NodeJS.Timeout;
  readonly #store: ShareStore | undefined;
  #queue: Queued[] = [];
  #flushing: Promise<void> | undefined;
  #accepted = 0;
  #submitted = 0;

  constructor(options: ShareSubmitterOptions) {
    this.#client = new DaemonClient(options.daemon, { deadlineMs: 10_000 });
    this.#key = options.key;
    this.#log = options.log;
    this.#maxQueued = options.maxQueued ?? 100_000;
    this.#store = options.store;
    // What an earlier run of this node queued and no daemon answered for goes out first.
    for (const stored of this.#store?.all() ?? [])
      this.#queue.push({
        share: stored.share,
        hash: shareHashOf(stored.share).toString('hex'),
        receipt: stored.receipt,
        transientRejections: 0,
        rowId: stored.rowId,
      });
    this.#timer = setInterval(() => void this.flush(), options.flushIntervalMs ?? 1_000);
    this.#timer.unref();
  }

  /** Shares acknowledged by the daemon so far. */
  get accepted(): number {
    return this.#accepted;
  }

  /** Shares handed to this submitter so far. */
  get submitted(): number {
    return this.#submitted;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** Queues share payloads of this node, with the receipt that backs them. */
  add(shares: readonly Uint8Array[], receipt: SignedRecord): void {
    const rowIds = this.#store?.insert(shares, receipt);
    shares.forEach((share, i) =>
      this.#queue.push({
        share,
        hash: shareHashOf(share).toString('hex'),
        receipt,
        transientRejections: 0,
        ...(rowIds === undefined ? {} : { rowId: rowIds[i]! }),
      }),
    );
    this.#submitted += shares.length;
    const excess = this.#queue.length - this.#maxQueued;
    if (excess > 0) {
      this.#forget(this.#queue.splice(0, excess));
      this.#log('shares_dropped', {
        count: excess,
        reason: `more than ${this.#maxQueued} shares unacknowledged by the daemon`,
      });
    }
  }

  /** Sends what is queued; one flush at a time. */
  flush(): Promise<void> {
    this.#flushing ??= this.#send().finally(() => (this.#flushing = undefined));
    return this.#flushing;
  }

  /** Flushes until the queue is empty or `graceMs` passes, then closes the channel. */
  async close(graceMs: number): Promise<void> {
    clearInterval(this.#timer);
    const deadline = Date.now() + graceMs;
    await this.#flushing;
    while (this.#queue.length > 0 && Date.now() < deadline) {
      const before = this.#queue.length;
      await this.flush();
      if (this.#queue.length >= before) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    if (this.#queue.length > 0)
      this.#log('shares_unsent', { count: this.#queue.length, daemon: this.#client.endpoint });
    this.#client.close();
  }

  #forget(queued: readonly Queued[]): void {
    this.#store?.delete(queued.flatMap((q) => (q.rowId === undefined ? [] : [q.rowId])));
  }

  async #send(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.slice(0, BATCH);
      const receipts = new Map<string, SignedRecord>();
      for (const q of batch) receipts.set(receiptHashOf(q.receipt.payload).toString('hex'), q.receipt);
      const statement = signStatement(
        this.#key,
        batch.map((q) => q.hash),
      );
      let verdicts;
      try {
        verdicts = await this.#client.submitShares(
          [{ statement, shares: batch.map((q) => q.share) }],
          [...receipts.values()],
        );
      } catch (error) {
        this.#log('shares_submit_failed', {
          daemon: this.#client.endpoint,
          queued: this.#queue.length,
          error: (error as ServiceError).details || (error as Error).message,
        });
        return;
      }
      const keep: Queued[] = [];
      const done: Queued[] = [];
      verdicts.forEach((verdict, i) => {
        const q = batch[i]!;
        if (verdict.accepted || verdict.rejection === 'SHARE_DUPLICATE') {
          this.#accepted++;
          done.push(q);
        } else if (TRANSIENT.has(verdict.rejection!) && ++q.transientRejections < MAX_TRANSIENT_REJECTIONS) {
          keep.push(q);
        } else {
          this.#log('share_rejected', { rejection: verdict.rejection, message: verdict.message });
          done.push(q);
        }
      });
      this.#forget(done);
      this.#queue = [...keep, ...this.#queue.slice(batch.length)];
      // Shares kept for a retry wait for the next flush rather than spinning here.
      if (keep.length > 0) return;
    }
  }
}
