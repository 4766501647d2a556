import { TesseraError } from '../core/errors.ts';
import type { Manifest } from '../model/manifest.ts';
import { sameSpan, spanContains, spanOfShard, spanProblem, type ShardSpan } from '../model/shards/span.ts';
import { bestRange, worthMoving, type Span } from './layer-assignment.ts';

/**
 * Which span of shards a joining node holds (issue 12; Petals' choose_best_blocks). The network
 * routes over the manifest's shards, so a shard is the unit of layer-assignment.ts: a node holds a
 * run of them sized to its memory, and the network is as fast as its weakest shard. A node takes the
 * longest span that fits its memory, placed where it leaves the weakest shard strongest.
 */

/** Tokens per second through one layer, by speed tier: the middle of each tier's band (capability.ts). */
export const TIER_THROUGHPUT: Readonly<Record<string, number>> = { T1: 200, T2: 33, T3: 8, T4: 1.7, T5: 0.5 };

/** How long an assignment is held for a node that has not registered yet: a download of its span. */
export const ASSIGNMENT_HOLD_MS = 10 * 60_000;

/** A node holding (or about to hold) a span of shards. */
export interface ShardHolder {
  readonly nodeId: string;
  readonly span: ShardSpan;
  readonly tier: string;
}

export interface Joiner {
  readonly nodeId: string;
  readonly freeBytes: number;
  readonly kvBudgetBytes: number;
  readonly tier: string;
  /** Shards it holds complete already (a restart): a span over them wins a tie. */
  readonly held: readonly number[];
  /** The span it holds now, when it asks whether to move. */
  readonly serving?: ShardSpan;
}

export type ShardRole = 'driver' | 'worker' | 'validator';

/**
 * The embedding makes a driver (the pipeline starts there), the head a validator, the rest workers;
 * a span with both (a whole model) drives. Takes a shard's entry or a span's layers (spanLayers).
 */
export function roleOfShard(part: { readonly embedding: boolean; readonly head: boolean }): ShardRole {
  return part.embedding ? 'driver' : part.head ? 'validator' : 'worker';
}

/**
 * A tier's throughput; an unmeasured node (it holds no layer to measure yet) counts as the median of
 * the measured ones, so that it neither crowds nor starves a shard on a guess.
 */
function throughputOf(tier: string, others: readonly number[]): number {
  const known = TIER_THROUGHPUT[tier];
  if (known !== undefined) return known;
  if (others.length === 0) return TIER_THROUGHPUT.T3!;
  const sorted = [...others].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * The spans that fit the node's memory (weights and KV budget) and cannot grow by a shard on either
 * side and still fit: with shards of one size, every span of the longest length that fits.
 */
export function fittingSpans(manifest: Manifest, node: Pick<Joiner, 'freeBytes' | 'kvBudgetBytes'>): ShardSpan[] {
  const before = [0];
  for (const entry of manifest.shards) before.push(before.at(-1)! + entry.bytes);
  const fits = (start: number, end: number) => before[end]! - before[start]! + node.kvBudgetBytes <= node.freeBytes;
  const spans: ShardSpan[] = [];
  for (let start = 0, end = 0; start < manifest.shards.length; start++) {
    end = Math.max(end, start);
    while (end < manifest.shards.length && fits(start, end + 1)) end++;
    if (end > start && (start === 0 || !fits(start - 1, end))) spans.push({ start, end });
  }
  return spans;
}

/**
 * The span `joiner` should hold beside `holders` (its own entries ignored: a restarted node chooses
 * afresh; layer-assignment.ts `bestRange` over shards): the longest that fits its memory, placed
 * where it leaves the weakest shard strongest; among equals, the one that leaves the fewest shards
 * uncovered, then the longest, then the one over the weakest shards, then the one it holds most of,
 * then the lowest start. Of shards of one size, every span of the longest length that fits is a
 * candidate; of unequal ones (a cut of one shard per layer, whose first and last shards also hold
 * the embedding and the head), the longest from each start, so that a node that cannot take the
 * longest run with the heavy shards still takes those it can cover. NO_SHARD_FITS when not even one
 * shard fits.
 */
export function chooseSpan(manifest: Manifest, holders: readonly ShardHolder[], joiner: Joiner): ShardSpan {
  const candidates = fittingSpans(manifest, joiner);
  if (candidates.length === 0) {
    const smallest = Math.min(...manifest.shards.map((e) => e.bytes + joiner.kvBudgetBytes));
    throw new TesseraError(
      'NO_SHARD_FITS',
      'failed_precondition',
      `no shard of ${manifest.modelId} fits ${mib(joiner.freeBytes)} MiB free: the smallest needs ${mib(smallest)} MiB (its weights and the ${mib(joiner.kvBudgetBytes)} MiB KV budget); free memory or lower --cache-mb`,
    );
  }
  const { spans, mine } = spansOf(manifest, holders, joiner);
  const held = new Set(joiner.held);
  const heldIn = (span: ShardSpan) => shardsOf(span).filter((k) => held.has(k)).length;
  return bestRange(manifest.shards.length, spans, candidates, mine, heldIn)!;
}

const mib = (bytes: number) => Math.ceil(bytes / 2 ** 20);

/** The others' spans as layer-assignment spans (in shards), and the joiner's throughput. */
function spansOf(
  manifest: Manifest,
  holders: readonly ShardHolder[],
  joiner: Pick<Joiner, 'nodeId' | 'tier'>,
): { spans: Span[]; mine: number } {
  // A registration made against an earlier manifest may name shards this one lacks.
  const others = holders.filter((h) => h.nodeId !== joiner.nodeId && spanProblem(manifest, h.span) === undefined);
  const measured = others.map((h) => TIER_THROUGHPUT[h.tier]).filter((t): t is number => t !== undefined);
  const spans = others.map((h) => ({
    nodeId: h.nodeId,
    start: h.span.start,
    end: h.span.end,
    throughput: throughputOf(h.tier, measured),
  }));
  return { spans, mine: throughputOf(joiner.tier, measured) };
}

/**
 * Where a serving node should move, or undefined to stay: to the span it would be given joining now
 * (chooseSpan, beside the others), and only as layer-assignment.ts `worthMoving` allows, over
 * shards: never when its leaving would uncover a shard, and only when the weakest shard after the
 * move is at least the current one / HYSTERESIS, or the move covers a shard nobody serves. With
 * `stayers` (registered nodes not moving), each shard it leaves must keep one of them.
 */
export function rebalanceSpan(
  manifest: Manifest,
  holders: readonly ShardHolder[],
  me: Joiner & { readonly serving: ShardSpan },
  stayers?: readonly ShardHolder[],
): ShardSpan | undefined {
  const { serving } = me;
  let target: ShardSpan;
  try {
    target = chooseSpan(manifest, holders, { ...me, held: shardsOf(serving) });
  } catch {
    return undefined; // nothing fits its memory now: it keeps what it holds
  }
  // A hold is a promise, not a node: only a registered node that is not itself moving keeps a shard covered.
  const left = shardsOf(serving).filter((shard) => shard < target.start || shard >= target.end);
  const kept = (shard: number) =>
    stayers!.some((s) => s.nodeId !== me.nodeId && spanContains(s.span, spanOfShard(shard)));
  if (stayers !== undefined && !left.every(kept)) return undefined;
  const { spans: others, mine } = spansOf(manifest, holders, me);
  const at: Span = { nodeId: me.nodeId, start: serving.start, end: serving.end, throughput: mine };
  return worthMoving(manifest.shards.length, others, at, target) ? target : undefined;
}

/** The shards of a span, in order. */
const shardsOf = (span: ShardSpan): number[] => Array.from({ length: span.end - span.start }, (_, i) => span.start + i);

/**
 * Holds kept in all, over every model: one per node id at most, so filling them takes as many staked
 * keys. Past it a joiner is refused ASSIGNMENT_HOLDS_FULL until holds are followed or lapse.
 */
export const MAX_HOLDS = 1024;

/** No room for another hold: the assigner's state is bounded, whoever asks. */
export class AssignmentHoldsFullError extends TesseraError {
  constructor(max: number, retryAtMs: number) {
    super(
      'ASSIGNMENT_HOLDS_FULL',
      'resource_exhausted',
      `the registry holds ${max} shard assignments for nodes that have not registered yet, as many as it keeps; ask again after ${new Date(retryAtMs).toISOString()}, when the oldest lapses`,
    );
  }
}

interface Hold extends ShardHolder {
  readonly modelId: string;
  /** The span the node holds while it moves; undefined for a joiner. */
  readonly from: ShardSpan | undefined;
  readonly untilMs: number;
}

/**
 * Assignments handed out and not yet followed by a registration: nodes joining (or moving) together
 * would otherwise all be sent to the same uncovered shards. A hold counts in place of its node's
 * registration until the node registers (a joiner on any span, a mover on a span other than the one
 * it leaves) or holdMs pass. Holds are bounded per node id (a new request replaces the old hold) and
 * in total (maxHolds), so that no key, nor many, can grow the state or keep more than one span each
 * looking served.
 */
export class ShardAssigner {
  /** By node id, in the order made (a replaced hold goes to the end). */
  readonly #holds = new Map<string, Hold>();

  constructor(
    private readonly holdMs = ASSIGNMENT_HOLD_MS,
    private readonly maxHolds = MAX_HOLDS,
  ) {}

  /**
   * Chooses `joiner`'s span beside the live `registered` nodes and the holds, and holds it; for a
   * node that says which span it holds, whether it should move (the span it holds: stay).
   * AssignmentHoldsFullError when a hold is needed and maxHolds are held by other nodes.
   */
  assign(
    manifest: Manifest,
    registered: readonly ShardHolder[],
    joiner: Joiner,
    nowMs: number,
  ): { span: ShardSpan; untilMs: number } {
    this.#release(manifest.modelId, registered, nowMs);
    // Its own earlier hold is replaced by this answer, whatever it is.
    this.#holds.delete(joiner.nodeId);
    const holds = [...this.#holds.values()].filter((h) => h.modelId === manifest.modelId);
    const held = new Set(holds.map((h) => h.nodeId));
    const holders = [...registered.filter((r) => !held.has(r.nodeId)), ...holds];
    const untilMs = nowMs + this.holdMs;
    if (joiner.serving !== undefined) {
      const stay = { span: joiner.serving, untilMs: 0 };
      // A move can wait: with no room to hold it, the node stays where it serves.
      if (this.#holds.size >= this.maxHolds) return stay;
      const moving = new Map(holds.map((h) => [h.nodeId, h.span]));
      const stayers = registered.filter((r) => sameSpan(moving.get(r.nodeId) ?? r.span, r.span));
      const target = rebalanceSpan(manifest, holders, { ...joiner, serving: joiner.serving }, stayers);
      if (target === undefined) return stay;
      return this.#hold(manifest.modelId, joiner, target, joiner.serving, untilMs);
    }
    if (this.#holds.size >= this.maxHolds)
      throw new AssignmentHoldsFullError(this.maxHolds, this.#holds.values().next().value!.untilMs);
    return this.#hold(manifest.modelId, joiner, chooseSpan(manifest, holders, joiner), undefined, untilMs);
  }

  /** Drops lapsed holds, and those of `modelId` whose node has registered since. */
  #release(modelId: string, registered: readonly ShardHolder[], nowMs: number): void {
    const serving = new Map(registered.map((r) => [r.nodeId, r.span]));
    for (const [nodeId, hold] of this.#holds) {
      const at = hold.modelId === modelId ? serving.get(nodeId) : undefined;
      const moved = at !== undefined && (hold.from === undefined || !sameSpan(at, hold.from));
      if (hold.untilMs <= nowMs || moved) this.#holds.delete(nodeId);
    }
  }

  #hold(
    modelId: string,
    joiner: Joiner,
    span: ShardSpan,
    from: ShardSpan | undefined,
    untilMs: number,
  ): { span: ShardSpan; untilMs: number } {
    this.#holds.set(joiner.nodeId, { modelId, nodeId: joiner.nodeId, span, tier: joiner.tier, from, untilMs });
    return { span, untilMs };
  }

  /** The holds of a model, for tests and status: node id → span. */
  holds(modelId: string): ReadonlyMap<string, ShardSpan> {
    return new Map([...this.#holds.values()].filter((h) => h.modelId === modelId).map((h) => [h.nodeId, h.span]));
  }

  /** Holds kept now, over every model. */
  get size(): number {
    return this.#holds.size;
  }
}
