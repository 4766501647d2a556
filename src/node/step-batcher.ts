/**
 * Continuous batching: the Steps of every session that are ready run through the node's layers
 * together, one pass over the weights for all of them (Engine.forwardBatch), so a node serving
 * many sessions does about the work of one per weight read. There is no batching window: a batch
 * starts as soon as the engine is free, with whatever arrived while the previous one ran, and
 * sessions join and leave between batches. A long input runs in chunks under a per-batch position
 * budget, so one long prompt delays the decodes queued beside it by one chunk, not by the whole
 * prompt. Each step gets the bytes it would get alone (forwardBatch is row-exact, and a chunked
 * input writes the same KV cache rows as an unchunked one), so commitments and audits hold.
 *
 * A node runs each session on the engine of its hop's span (a view of the one over all the node
 * holds, src/model/engine.ts `slice`): a batch holds steps of one engine only, as one pass runs one
 * run of layers; steps of another wait for a batch of their own.
 */
import type { Engine, BatchItem, ForwardInput } from '../model/engine.ts';
import type { KvCache } from '../model/kv-cache.ts';
import { concatFloat32 } from '../tensor/float32-concat.ts';

/** Positions one batch runs by default: decodes of a full node plus a prefill chunk. */
export const DEFAULT_BATCH_POSITIONS = 128;

export interface StepBatcherOptions {
  /** Positions one batch may hold at most (decodes and prefill chunks together). */
  readonly maxBatchPositions?: number;
  /**
   * How many sessions the node serves now. With sessions routed through a pipeline of d shards, a
   * batch takes at most ⌈sessions / d⌉ of them, so sessions that arrive together are split into d
   * micro-batches and each shard computes one while the next shard computes the one before.
   */
  readonly activeSessions?: () => number;
}

/** One step's result: this range's output for all its positions, and the compute time spent on it. */
export interface BatchedOutput {
  /** Hidden states of every position, or, on the shard with the head, logits of the last. */
  readonly output: Float32Array;
  /** This step's share of the batches it ran in (each batch's time split by positions). */
  readonly computeMicroseconds: number;
}

export interface StepRequest {
  /** The engine (view) the step's session runs on: the one that made its cache. */
  readonly engine: Engine;
  readonly cache: KvCache;
  readonly input: ForwardInput;
  readonly startPos: number;
  /** Hops in the session's route (1: the whole model here). */
  readonly pipelineDepth?: number;
  /** The step's last position comes in a later request (a part of a step): a head range computes no logits for it. */
  readonly partial?: boolean;
  /**
   * Takes the hidden states of each chunk but the last as soon as it has run, so that the next hop
   * can compute it while this node computes the next (ranges without the head).
   */
  readonly onChunk?: (hidden: Float32Array) => void;
}

interface Pending {
  readonly request: StepRequest;
  readonly positions: number;
  /** Positions already run. */
  done: number;
  /** Hidden states of the chunks run so far (ranges without the head). */
  readonly chunks: Float32Array[];
  computeUs: number;
  readonly resolve: (result: BatchedOutput) => void;
  readonly reject: (error: unknown) => void;
}

export class StepBatcher {
  private readonly queue: Pending[] = [];
  private scheduled = false;
  private readonly maxPositions: number;

  constructor(private readonly options: StepBatcherOptions = {}) {
    this.maxPositions = options.maxBatchPositions ?? DEFAULT_BATCH_POSITIONS;
    if (!Number.isInteger(this.maxPositions) || this.maxPositions < 1)
      throw new Error(`maxBatchPositions must be a positive integer, got ${this.maxPositions}`);
  }

  /**
   * Queues one step and resolves with its output once it has run. An input the engine cannot take
   * is refused at once (EngineInputError, CacheFullError), before any batch holds it.
   */
  run(request: StepRequest): Promise<BatchedOutput> {
    let positions: number;
    try {
      positions = request.engine.check(request);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ request, positions, done: 0, chunks: [], computeUs: 0, resolve, reject });
      this.schedule(true);
    });
  }

  /**
   * Drops the queued steps of a session that ended (its stream cancelled or closed), so that a
   * client opening and cancelling streams cannot leave work behind for the node to do for nothing.
   */
  cancel(cache: KvCache): void {
    this.refuse((p) => p.request.cache === cache, 'the session ended before its step ran');
  }

  /** Steps queued or part-way through a chunked input. */
  get pending(): number {
    return this.queue.length;
  }

  /**
   * The next batch runs from the event loop's check phase: every request that arrived during the
   * batch before (read in the poll phase just ahead of it) is queued by then. A step that `arrived`
   * for the only session open runs at once instead: no other step could join its batch (a session's
   * steps come one after another), and each hop of a route would otherwise wait a turn for nothing.
   */
  private schedule(arrived = false): void {
    if (this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      this.runBatch();
      this.schedule();
    };
    if (arrived && this.queue.length === 1 && this.options.activeSessions?.() === 1) queueMicrotask(run);
    else setImmediate(run);
  }

  /** Which queued steps run next (all on the oldest one's engine), and how many of their positions. */
  private pick(): { pending: Pending; take: number }[] {
    const depth = Math.max(1, ...this.queue.map((p) => p.request.pipelineDepth ?? 1));
    const sessions = Math.max(this.queue.length, this.options.activeSessions?.() ?? 0);
    const maxItems = Math.max(1, Math.ceil(sessions / depth));
    // The oldest step always runs (at least one position of it), so none waits forever; the others
    // of its engine go fewest remaining positions first (decodes, then the ends of prompts), and the
    // oldest takes what room they leave.
    const [oldest, ...others] = this.queue;
    if (oldest === undefined) return [];
    const rest = others.filter((p) => p.request.engine === oldest.request.engine);
    rest.sort((a, b) => a.positions - a.done - (b.positions - b.done));
    const picked: { pending: Pending; take: number }[] = [];
    let room = this.maxPositions - 1;
    for (const pending of rest) {
      if (room === 0 || picked.length === maxItems - 1) break;
      const take = Math.min(pending.positions - pending.done, room);
      picked.push({ pending, take });
      room -= take;
    }
    picked.push({ pending: oldest, take: Math.min(oldest.positions - oldest.done, room + 1) });
    return picked;
  }

  private runBatch(): void {
    // A session evicted while its step waited has no cache left to run it in.
    this.refuse((p) => p.request.cache.released, "the session's KV cache was given back before its step ran");
    const picked = this.pick();
    if (picked.length === 0) return;
    const { engine } = picked[0]!.pending.request;
    const H = engine.config.hiddenSize;
    const items: BatchItem[] = picked.map(({ pending: { request, done, positions }, take }) => ({
      cache: request.cache,
      input:
        'tokens' in request.input
          ? { tokens: take === positions ? request.input.tokens : request.input.tokens.slice(done, done + take) }
          : {
              hidden:
                take === positions ? request.input.hidden : request.input.hidden.subarray(done * H, (done + take) * H),
            },
      startPos: request.startPos + done,
      partial: done + take < positions || request.partial === true,
    }));
    const started = performance.now();
    let results;
    try {
      results = engine.forwardBatch(items);
    } catch {
      // Every item was checked when queued, so this is rare; run them one by one so that only the
      // step at fault fails.
      results = items.map((item) => {
        try {
          return engine.forwardBatch([item])[0]!;
        } catch (error) {
          return error instanceof Error ? error : new Error(String(error));
        }
      });
    }
    const elapsedUs = (performance.now() - started) * 1000;
    const batchPositions = picked.reduce((sum, p) => sum + p.take, 0);
    picked.forEach(({ pending, take }, i) => {
      const result = results[i]!;
      if (result instanceof Error) {
        this.remove(pending);
        pending.reject(result);
        return;
      }
      pending.done += take;
      pending.computeUs += (elapsedUs * take) / batchPositions;
      if (result.hidden) pending.chunks.push(result.hidden);
      if (pending.done < pending.positions) {
        if (result.hidden) pending.request.onChunk?.(result.hidden);
        return;
      }
      this.remove(pending);
      pending.resolve({
        output: result.logits ?? (pending.chunks.length === 1 ? pending.chunks[0]! : concatFloat32(pending.chunks)),
        computeMicroseconds: pending.computeUs,
      });
    });
  }

  /** Takes the queued steps that `matches` out of the queue, each refused with `reason`. */
  private refuse(matches: (pending: Pending) => boolean, reason: string): void {
    for (const pending of this.queue.filter(matches)) {
      this.remove(pending);
      pending.reject(new Error(reason));
    }
  }

  private remove(pending: Pending): void {
    this.queue.splice(this.queue.indexOf(pending), 1);
  }
}
