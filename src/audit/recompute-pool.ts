import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { TesseraError } from '../core/errors.ts';
import type { ShardSpan } from '../model/shards/span.ts';
import { AuditError, type TicketInputBytes } from '../protocol/ticket.ts';

/** One ticket to recompute: the span of the shards beside `manifestPath`, over the ticket's input. */
export interface RecomputeJob {
  readonly id: number;
  readonly manifestPath: string;
  readonly manifestJson: string;
  readonly modelId: string;
  /** The commitment's span: every file of it must be beside the manifest. */
  readonly span: ShardSpan;
  readonly input: TicketInputBytes;
}

export type RecomputeAnswer =
  | { readonly id: number; readonly hash: Uint8Array }
  | {
      readonly id: number;
      readonly error: { readonly message: string; readonly auditStatus?: number; readonly reason?: string };
    };

export interface RecomputePoolOptions {
  /** Worker threads; default and most: one fewer than the cores, at least 1. */
  readonly threads?: number;
  /** Most recomputations one owner (a verifier) may have waiting or running. */
  readonly maxPerOwner: number;
}

interface Pending {
  readonly job: RecomputeJob;
  readonly owner: string;
  readonly resolve: (hash: Buffer) => void;
  readonly reject: (error: Error) => void;
}

interface Lane {
  readonly worker: Worker;
  busy?: Pending;
}

/** The most worker threads a pool may use on this machine: the event loop keeps a core. */
export function maxRecomputeThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}

/**
 * Fraud-proof recomputation on worker threads, so that the registry's event loop keeps answering
 * heartbeats and discovery while a span's layers run (seconds for a long prefill). Bounded twice:
 * a fixed number of threads, and per owner (the verifier that filed) a bounded share of the queue,
 * so that one verifier's burst waits behind itself and is refused past its share instead of
 * growing without limit.
 */
export class RecomputePool {
  readonly threads: number;
  readonly #lanes: Lane[] = [];
  readonly #queue: Pending[] = [];
  readonly #perOwner = new Map<string, number>();
  #nextId = 0;
  #closed = false;

  constructor(private readonly options: RecomputePoolOptions) {
    this.threads = Math.min(maxRecomputeThreads(), Math.max(1, options.threads ?? maxRecomputeThreads()));
  }

  /** Waiting or running for `owner`. */
  load(owner: string): number {
    return this.#perOwner.get(owner) ?? 0;
  }

  /**
   * The output hash of the job's ticket, computed on a worker. Refuses (RECOMPUTE_QUEUE_FULL) when
   * `owner` already has its share queued; rejects with the AuditError a malformed input raises.
   */
  recompute(owner: string, job: Omit<RecomputeJob, 'id'>): Promise<Buffer> {
    if (this.#closed)
      return Promise.reject(new TesseraError('SHUTTING_DOWN', 'unavailable', 'the registry is stopping'));
    const load = this.load(owner);
    if (load >= this.options.maxPerOwner)
      return Promise.reject(
        new TesseraError(
          'RECOMPUTE_QUEUE_FULL',
          'resource_exhausted',
          `${owner} already has ${load} fraud proofs being recomputed (at most ${this.options.maxPerOwner}); retry once they are decided`,
        ),
      );
    this.#perOwner.set(owner, load + 1);
    return new Promise<Buffer>((resolve, reject) => {
      // A view into a whole gRPC message would post all of it: post a copy of just the input.
      const input = { ...job.input, bytes: new Uint8Array(job.input.bytes) };
      this.#queue.push({ job: { ...job, input, id: this.#nextId++ }, owner, resolve, reject });
      this.#pump();
    });
  }

  /** Stops the workers; what is waiting or running is rejected (SHUTTING_DOWN). */
  async close(): Promise<void> {
    this.#closed = true;
    const stopping = new TesseraError('SHUTTING_DOWN', 'unavailable', 'the registry is stopping');
    for (const pending of this.#queue.splice(0)) this.#settle(pending, () => pending.reject(stopping));
    const lanes = this.#lanes.splice(0);
    for (const lane of lanes) if (lane.busy) this.#settle(lane.busy, () => lane.busy!.reject(stopping));
    await Promise.all(lanes.map((lane) => lane.worker.terminate()));
  }

  #settle(pending: Pending, settle: () => void): void {
    const left = (this.#perOwner.get(pending.owner) ?? 1) - 1;
    if (left > 0) this.#perOwner.set(pending.owner, left);
    else this.#perOwner.delete(pending.owner);
    settle();
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      const lane = this.#lanes.find((l) => l.busy === undefined) ?? this.#startLane();
      if (lane === undefined) return;
      const pending = this.#queue.shift()!;
      lane.busy = pending;
      lane.worker.ref();
      lane.worker.postMessage(pending.job);
    }
  }

  #startLane(): Lane | undefined {
    if (this.#lanes.length >= this.threads) return undefined;
    const worker = new Worker(new URL('./recompute-worker.js', import.meta.url));
    const lane: Lane = { worker };
    worker.on('message', (answer: RecomputeAnswer) => {
      const pending = lane.busy;
      if (pending === undefined || pending.job.id !== answer.id) return;
      lane.busy = undefined;
      worker.unref();
      this.#settle(pending, () => {
        if ('hash' in answer) pending.resolve(Buffer.from(answer.hash));
        else if (answer.error.auditStatus !== undefined)
          pending.reject(new AuditError(answer.error.auditStatus, answer.error.reason!, answer.error.message));
        else pending.reject(new Error(answer.error.message));
      });
      this.#pump();
    });
    const fail = (error: Error) => {
      const index = this.#lanes.indexOf(lane);
      if (index >= 0) this.#lanes.splice(index, 1);
      const pending = lane.busy;
      lane.busy = undefined;
      if (pending) this.#settle(pending, () => pending.reject(error));
      if (!this.#closed) this.#pump();
    };
    worker.on('error', (error) => fail(new Error(`a recompute worker failed: ${error.message}`)));
    worker.on('exit', (code) => fail(new Error(`a recompute worker exited (code ${code})`)));
    this.#lanes.push(lane);
    return lane;
  }
}
