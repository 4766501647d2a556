import { ApiError } from './api-error.ts';

interface Waiter {
  readonly admit: () => void;
}

/** Bounds for Retry-After, in seconds. */
const MIN_RETRY_AFTER_S = 1;
const MAX_RETRY_AFTER_S = 60;
/** Weight of the latest slot hold time in the running average that Retry-After is estimated from. */
const HOLD_TIME_WEIGHT = 0.2;

/**
 * How many requests generate at once: up to `capacity()` hold a slot, up to `maxQueue` more wait
 * in arrival order, and past that a request is told to come back (429 with Retry-After). Load is
 * never answered 503: that status says the network is broken, and clients do not retry it the same.
 */
export class Admission {
  #running = 0;
  #arriving = 0;
  readonly #queue: Waiter[] = [];
  /** Running average of how long a slot is held, in ms. */
  #holdMs = 1000;

  constructor(
    private readonly capacity: () => number,
    readonly maxQueue: number,
  ) {}

  get running(): number {
    return this.#running;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** Requests being read and checked, not yet in line. */
  get arriving(): number {
    return this.#arriving;
  }

  /**
   * Counts a request from its arrival to its place in line (its body read, its prompt checked), so
   * that slow or large bodies cannot pile up in memory without bound: at most as many as the line
   * and the slots together; past that, 429. The returned function ends the count (once).
   */
  arrive(): () => void {
    if (this.#arriving >= this.maxQueue + this.capacity()) throw this.#full();
    this.#arriving++;
    let done = false;
    return () => {
      if (!done) this.#arriving--;
      done = true;
    };
  }

  /**
   * A slot, or a wait in line for one; the returned function gives it back. A request whose
   * `signal` aborts while it waits leaves the line (rejected with the signal's reason).
   */
  async acquire(signal: AbortSignal): Promise<() => void> {
    signal.throwIfAborted();
    if (this.#queue.length === 0 && this.#running < this.capacity()) return this.#slot();
    if (this.#queue.length >= this.maxQueue) throw this.#full();
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        admit: () => {
          signal.removeEventListener('abort', leave);
          resolve();
        },
      };
      const leave = () => {
        const at = this.#queue.indexOf(waiter);
        if (at >= 0) this.#queue.splice(at, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', leave, { once: true });
      this.#queue.push(waiter);
    });
    return this.#slot(false);
  }

  /** Lets waiting requests in after the capacity grew. */
  pump(): void {
    while (this.#queue.length > 0 && this.#running < this.capacity()) {
      this.#running++;
      this.#queue.shift()!.admit();
    }
  }

  /** A guess at when a slot will be free: the average hold time, times the queue per slot. */
  retryAfterSeconds(): number {
    const waits = (this.#queue.length + 1) / Math.max(1, this.capacity());
    const seconds = Math.ceil((this.#holdMs * waits) / 1000);
    return Math.min(MAX_RETRY_AFTER_S, Math.max(MIN_RETRY_AFTER_S, seconds));
  }

  #full(): ApiError {
    const retryAfterSeconds = this.retryAfterSeconds();
    return new ApiError(
      'QUEUE_FULL',
      'resource_exhausted',
      `the gateway is serving ${this.#running} requests with ${this.#queue.length} waiting and ${this.#arriving} arriving, its most; retry after ${retryAfterSeconds} s`,
      { retryAfterSeconds },
    );
  }

  #slot(count = true): () => void {
    if (count) this.#running++;
    const startedMs = performance.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#running--;
      this.#holdMs += HOLD_TIME_WEIGHT * (performance.now() - startedMs - this.#holdMs);
      this.pump();
    };
  }
}
