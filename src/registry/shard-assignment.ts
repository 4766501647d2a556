import { TesseraError } from '../core/errors.ts';
import type { Manifest, ShardEntry } from '../model/manifest.ts';
import { HYSTERESIS, layerThroughput, weakest, type Span } from './layer-assignment.ts';

/**
 * Which shard a joining node serves (issue 12). The network routes by shard, so a shard is the
 * block of layer-assignment.ts: each node holds one, and the network is as fast as its weakest
 * shard. A node takes, among the shards that fit its memory, the one that leaves the weakest shard
 * strongest: a shard nobody serves first, then the slowest.
 */

/** Tokens per second through one layer, by speed tier: the middle of each tier's band (capability.ts). */
export const TIER_THROUGHPUT: Readonly<Record<string, number>> = { T1: 200, T2: 33, T3: 8, T4: 1.7, T5: 0.5 };

/** How long an assignment is held for a node that has not registered yet: a download of its shard. */
export const ASSIGNMENT_HOLD_MS = 10 * 60_000;

/** A node serving (or about to serve) a shard. */
export interface ShardHolder {
  readonly nodeId: string;
  readonly shardIndex: number;
  readonly tier: string;
}

export interface Joiner {
  readonly nodeId: string;
  readonly freeBytes: number;
  readonly kvBudgetBytes: number;
  readonly tier: string;
  readonly held: readonly number[];
  /** The shard it serves now, when it asks whether to move. */
  readonly serving?: number;
}

export type ShardRole = 'driver' | 'worker' | 'validator';

/** The embedding makes a driver (the pipeline starts there), the head a validator, the rest workers. */
export function roleOfShard(entry: ShardEntry): ShardRole {
  return entry.embedding ? 'driver' : entry.head ? 'validator' : 'worker';
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

/** Memory a shard needs on a node: its weights and the node's KV budget. */
export const shardNeeds = (entry: ShardEntry, kvBudgetBytes: number): number => (entry.bytes ?? 0) + kvBudgetBytes;

/**
 * The shard `joiner` should serve beside `holders` (its own entries ignored: a restarted node
 * chooses afresh): of the shards that fit its memory, the one whose taking leaves the weakest shard
 * strongest; among equals one it holds already, then the one served least, then the lowest index.
 * NO_SHARD_FITS when none fits.
 */
export function chooseShard(manifest: Manifest, holders: readonly ShardHolder[], joiner: Joiner): ShardEntry {
  const shards = manifest.shards.length;
  const { spans, mine } = spansOf(shards, holders, joiner);
  const current = layerThroughput(shards, spans);
  const fitting = manifest.shards.filter((e) => shardNeeds(e, joiner.kvBudgetBytes) <= joiner.freeBytes);
  if (fitting.length === 0) {
    const smallest = Math.min(...manifest.shards.map((e) => shardNeeds(e, joiner.kvBudgetBytes)));
    throw new TesseraError(
      'NO_SHARD_FITS',
      'failed_precondition',
      `no shard of ${manifest.modelId} fits ${mib(joiner.freeBytes)} MiB free: the smallest needs ${mib(smallest)} MiB (its weights and the ${mib(joiner.kvBudgetBytes)} MiB KV budget); free memory or lower --cache-mb`,
    );
  }
  const scored = fitting.map((entry) => {
    const after = current.map((t, s) => (s === entry.index ? t + mine : t));
    return {
      entry,
      weakest: Math.min(...after),
      held: joiner.held.includes(entry.index),
      served: current[entry.index]!,
    };
  });
  scored.sort(
    (a, b) =>
      b.weakest - a.weakest || Number(b.held) - Number(a.held) || a.served - b.served || a.entry.index - b.entry.index,
  );
  return scored[0]!.entry;
}

const mib = (bytes: number) => Math.ceil(bytes / 2 ** 20);

/** The others' shards as layer-assignment spans (one shard, one block), and the joiner's throughput. */
function spansOf(shards: number, holders: readonly ShardHolder[], joiner: Joiner): { spans: Span[]; mine: number } {
  const others = holders.filter((h) => h.nodeId !== joiner.nodeId && h.shardIndex < shards);
  const measured = others.map((h) => TIER_THROUGHPUT[h.tier]).filter((t): t is number => t !== undefined);
  const spans = others.map((h) => ({
    nodeId: h.nodeId,
    start: h.shardIndex,
    end: h.shardIndex + 1,
    throughput: throughputOf(h.tier, measured),
  }));
  return { spans, mine: throughputOf(joiner.tier, measured) };
}

/**
 * Where a serving node should move, or undefined to stay (layer-assignment.ts `rebalance`, over
 * shards and with its memory): never when its leaving would uncover its shard, and only when the
 * weakest shard after the move is at least the current one / HYSTERESIS, or the move covers a shard
 * nobody serves. With `stayers` (registered nodes not moving), its shard must keep one of them.
 */
export function rebalanceShard(
  manifest: Manifest,
  holders: readonly ShardHolder[],
  me: Joiner & { readonly serving: number },
  stayers?: readonly ShardHolder[],
): ShardEntry | undefined {
  const shards = manifest.shards.length;
  // A hold is a promise, not a node: only a registered node that is not itself moving keeps a shard covered.
  if (stayers !== undefined && !stayers.some((s) => s.nodeId !== me.nodeId && s.shardIndex === me.serving))
    return undefined;
  const { spans: others, mine } = spansOf(shards, holders, me);
  const at = (shard: number): Span => ({ nodeId: me.nodeId, start: shard, end: shard + 1, throughput: mine });
  const now = weakest(shards, [...others, at(me.serving)]);
  if (weakest(shards, others) === 0 && now > 0) return undefined;
  let target: ShardEntry;
  try {
    target = chooseShard(manifest, holders, { ...me, held: [me.serving] });
  } catch {
    return undefined; // no other shard fits its memory now
  }
  if (target.index === me.serving) return undefined;
  const after = weakest(shards, [...others, at(target.index)]);
  return (now === 0 ? after > 0 : after >= now / HYSTERESIS) ? target : undefined;
}

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
  /** The shard the node serves while it moves; undefined for a joiner. */
  readonly from: number | undefined;
  readonly untilMs: number;
}

/**
 * Assignments handed out and not yet followed by a registration: nodes joining (or moving) together
 * would otherwise all be sent to the same uncovered shard. A hold counts in place of its node's
 * registration until the node registers (a joiner on any shard, a mover on a shard other than the
 * one it leaves) or holdMs pass. Holds are bounded per node id (a new request replaces the old
 * hold) and in total (maxHolds), so that no key, nor many, can grow the state or keep more than one
 * shard each looking served.
 */
export class ShardAssigner {
  /** By node id, in the order made (a replaced hold goes to the end). */
  readonly #holds = new Map<string, Hold>();

  constructor(
    private readonly holdMs = ASSIGNMENT_HOLD_MS,
    private readonly maxHolds = MAX_HOLDS,
  ) {}

  /**
   * Chooses `joiner`'s shard beside the live `registered` nodes and the holds, and holds it; for a
   * node that says which shard it serves, whether it should move (the shard it serves: stay).
   * AssignmentHoldsFullError when a hold is needed and maxHolds are held by other nodes.
   */
  assign(
    manifest: Manifest,
    registered: readonly ShardHolder[],
    joiner: Joiner,
    nowMs: number,
  ): { entry: ShardEntry; untilMs: number } {
    this.#release(manifest.modelId, registered, nowMs);
    // Its own earlier hold is replaced by this answer, whatever it is.
    this.#holds.delete(joiner.nodeId);
    const holds = [...this.#holds.values()].filter((h) => h.modelId === manifest.modelId);
    const held = new Set(holds.map((h) => h.nodeId));
    const holders = [...registered.filter((r) => !held.has(r.nodeId)), ...holds];
    const untilMs = nowMs + this.holdMs;
    if (joiner.serving !== undefined) {
      const stay = { entry: manifest.shards[joiner.serving]!, untilMs: 0 };
      // A move can wait: with no room to hold it, the node stays where it serves.
      if (this.#holds.size >= this.maxHolds) return stay;
      const moving = new Map(holds.map((h) => [h.nodeId, h.shardIndex]));
      const stayers = registered.filter((r) => (moving.get(r.nodeId) ?? r.shardIndex) === r.shardIndex);
      const target = rebalanceShard(manifest, holders, { ...joiner, serving: joiner.serving }, stayers);
      if (target === undefined) return stay;
      return this.#hold(manifest.modelId, joiner, target, joiner.serving, untilMs);
    }
    if (this.#holds.size >= this.maxHolds)
      throw new AssignmentHoldsFullError(this.maxHolds, this.#holds.values().next().value!.untilMs);
    return this.#hold(manifest.modelId, joiner, chooseShard(manifest, holders, joiner), undefined, untilMs);
  }

  /** Drops lapsed holds, and those of `modelId` whose node has registered since. */
  #release(modelId: string, registered: readonly ShardHolder[], nowMs: number): void {
    const serving = new Map(registered.map((r) => [r.nodeId, r.shardIndex]));
    for (const [nodeId, hold] of this.#holds) {
      const at = hold.modelId === modelId ? serving.get(nodeId) : undefined;
      if (hold.untilMs <= nowMs || (at !== undefined && at !== hold.from)) this.#holds.delete(nodeId);
    }
  }

  #hold(
    modelId: string,
    joiner: Joiner,
    entry: ShardEntry,
    from: number | undefined,
    untilMs: number,
  ): { entry: ShardEntry; untilMs: number } {
    this.#holds.set(joiner.nodeId, {
      modelId,
      nodeId: joiner.nodeId,
      shardIndex: entry.index,
      tier: joiner.tier,
      from,
      untilMs,
    });
    return { entry, untilMs };
  }

  /** The holds of a model, for tests and status: node id → shard. */
  holds(modelId: string): ReadonlyMap<string, number> {
    return new Map([...this.#holds.values()].filter((h) => h.modelId === modelId).map((h) => [h.nodeId, h.shardIndex]));
  }

  /** Holds kept now, over every model. */
  get size(): number {
    return this.#holds.size;
  }
}
