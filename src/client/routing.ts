import { formatSpan, type ShardSpan } from '../model/shards/span.ts';

/**
 * Route choice: a path over the model's shard boundaries 0..S, minimizing the expected time per
 * token. A node holds a span of the manifest's shards and serves any sub-span of it as a hop
 * (src/model/shards/span.ts), so an edge from boundary a to boundary b is a node holding [a, b). A
 * token crosses every hop once, so the expected time is the sum over hops of (round trip to the node
 * + the node's time per token, scaled to the share of its held span the hop runs); each hop costs a
 * round trip, so fewer hops win when the times are equal, and a node appears at most once in a
 * route. Both measures are this client's (the Info probe, and the steps of its past sessions:
 * src/client/service-record.ts), never what a node says of itself: a node that claims to compute in
 * no time gains nothing by it. A node not yet measured counts as the slowest measured one, per
 * shard. Load and price only break ties: they add a small penalty, never enough to prefer a node
 * that is clearly slower.
 *
 * A node with little measured good service is on probation: each choice admits it with a
 * probability that starts at PROBATION_SHARE.min and grows with the verified steps it served, to
 * PROBATION_SHARE.max (one draw per node per choice); the nodes it does not admit are left out
 * unless no route exists without them. At PROBATION_STEPS it competes on measured time alone. A
 * fresh key cannot draw a network's traffic to itself by claims.
 */

/** A live node as discovery reports it, with the round trip this client measured to it. */
export interface Candidate {
  readonly nodeId: string;
  readonly endpoint: string;
  /** The span the node holds: the manifest's shards [shardIndex, shardEnd). */
  readonly shardIndex: number;
  readonly shardEnd: number;
  readonly activeSessions: number;
  readonly maxSessions: number;
  /** What the node says of its speed: shown, never used to choose (a claim anyone can make). */
  readonly computeUsPerToken: number;
  readonly pricePer1kTokens: number;
  readonly tls: boolean;
  /** Measured with the Node Info RPC; undefined when the node did not answer. */
  readonly rttUs?: number;
  /**
   * This client's measure of the node's time per token through its whole held span, from past
   * sessions; undefined: none yet.
   */
  readonly measuredUsPerToken?: number;
  /** Steps the node served this client with a result whose commitments checked out. */
  readonly goodSteps?: number;
}

/** Verified steps after which a node is off probation. */
export const PROBATION_STEPS = 64;
/** A probationary node's chance of being admitted to a choice: `min` when new, growing linearly to `max` at PROBATION_STEPS. */
export const PROBATION_SHARE = { min: 0.05, max: 0.5 } as const;

/** The chance a probationary node with `goodSteps` verified steps is admitted to a route choice. */
export function probationShare(goodSteps: number): number {
  const progress = Math.min(1, Math.max(0, goodSteps) / PROBATION_STEPS);
  return PROBATION_SHARE.min + (PROBATION_SHARE.max - PROBATION_SHARE.min) * progress;
}

export interface RouteHop {
  readonly nodeId: string;
  readonly endpoint: string;
  /** The span this hop runs: shards [shardIndex, shardEnd), a span of what its node holds. */
  readonly shardIndex: number;
  readonly shardEnd: number;
  readonly tls: boolean;
}

/** Share of the expected time added for a node whose sessions are all taken (linear in load). */
const LOAD_PENALTY = 0.1;
/** Microseconds of penalty per unit of price per 1000 tokens: a tie-breaker between equal nodes. */
const PRICE_PENALTY_US = 0.01;
/**
 * The least round trip a hop counts, in microseconds. Every hop must cost something for the search
 * to prefer fewer hops: with round trips of zero, every split of a span among identical nodes ties
 * and the ties grow exponentially with the nodes (a probe never measures under a microsecond).
 */
const MIN_ROUND_TRIP_US = 1;
/** Costs this close (relative) are equal: sums of the same terms in another order differ in their last bits. */
const COST_TOLERANCE = 1e-9;

export class NoRouteError extends Error {
  readonly code = 'NO_ROUTE';
  constructor(
    readonly modelId: string,
    /** The shards no usable node holds. */
    readonly missingShards: readonly number[],
    detail: string,
    /** Every missing shard has listed nodes, only full, unreachable or set aside now: worth waiting a moment for. */
    readonly transient = false,
  ) {
    super(`no route for model ${modelId}: ${detail}`);
  }
}

const heldLength = (c: Candidate): number => c.shardEnd - c.shardIndex;

/** Whether the candidate's held span is a span of a model of `shards` shards (discovery should list no other). */
const holdsSpanOf = (c: Candidate, shards: number): boolean =>
  Number.isInteger(c.shardIndex) &&
  Number.isInteger(c.shardEnd) &&
  c.shardIndex >= 0 &&
  c.shardIndex < c.shardEnd &&
  c.shardEnd <= shards;

const holdsShard = (c: Candidate, shard: number): boolean => c.shardIndex <= shard && shard < c.shardEnd;

/** The node's time per token per shard: its measure spread over its held span, or `unmeasuredUsPerShard`. */
function usPerShard(c: Candidate, unmeasuredUsPerShard: number): number {
  return c.measuredUsPerToken === undefined ? unmeasuredUsPerShard : c.measuredUsPerToken / heldLength(c);
}

/**
 * Expected microseconds per token through this node running `span` (a span of what it holds), with
 * the tie-breaking penalties. A node not yet measured counts `unmeasuredUsPerShard` per shard.
 */
export function hopCost(candidate: Candidate, span: ShardSpan, unmeasuredUsPerShard = 0): number {
  return costModel(candidate, unmeasuredUsPerShard)(span.end - span.start);
}

/** hopCost of the candidate as a function of the number of shards the hop runs. */
function costModel(candidate: Candidate, unmeasuredUsPerShard: number): (shards: number) => number {
  const rtt = Math.max(MIN_ROUND_TRIP_US, candidate.rttUs ?? Infinity);
  const perShard = usPerShard(candidate, unmeasuredUsPerShard);
  const load = candidate.maxSessions > 0 ? candidate.activeSessions / candidate.maxSessions : 1;
  const factor = 1 + LOAD_PENALTY * load;
  const price = PRICE_PENALTY_US * candidate.pricePer1kTokens;
  return (shards) => (rtt + perShard * shards) * factor + price;
}

/**
 * The cheapest route over `shards` shards, probationary nodes admitted by their share (see above;
 * `random` draws it, once per probationary node, in node id order). Nodes in `excluded` (banned),
 * nodes that did not answer the probe and nodes with no free session are left out; the shards no
 * node left holds are named.
 */
export function chooseRoute(
  modelId: string,
  shards: number,
  candidates: readonly Candidate[],
  excluded: ReadonlySet<string> = new Set(),
  random: () => number = Math.random,
): RouteHop[] {
  const listed = candidates.filter((c) => holdsSpanOf(c, shards));
  const usable = listed
    .filter((c) => !excluded.has(c.nodeId) && c.rttUs !== undefined && c.activeSessions < c.maxSessions)
    .sort((a, b) => compareIds(a.nodeId, b.nodeId));
  const missing = uncoveredShards(shards, usable);
  if (missing.length > 0)
    throw new NoRouteError(
      modelId,
      missing,
      missingReasons(missing, listed),
      missing.every((shard) => listed.some((c) => holdsShard(c, shard))),
    );
  const measured = usable.filter((c) => c.measuredUsPerToken !== undefined).map((c) => usPerShard(c, 0));
  const unmeasuredUsPerShard = measured.length > 0 ? Math.max(...measured) : 0;
  const rejected = new Set(
    usable
      .filter((c) => (c.goodSteps ?? 0) < PROBATION_STEPS && !(random() < probationShare(c.goodSteps ?? 0)))
      .map((c) => c.nodeId),
  );
  const admitted = usable.filter((c) => !rejected.has(c.nodeId));
  const among = uncoveredShards(shards, admitted).length === 0 ? admitted : usable;
  return cheapestRoute(shards, among, unmeasuredUsPerShard);
}

/** The shards of 0..shards-1 that none of `nodes` holds. */
function uncoveredShards(shards: number, nodes: readonly Candidate[]): number[] {
  const missing: number[] = [];
  for (let shard = 0; shard < shards; shard++) if (!nodes.some((c) => holdsShard(c, shard))) missing.push(shard);
  return missing;
}

/** Why each run of missing shards has no node: none listed, or those listed are out of reach of this client. */
function missingReasons(missing: readonly number[], listed: readonly Candidate[]): string {
  const runs: { span: { start: number; end: number }; holders: string[] }[] = [];
  for (const shard of missing) {
    const holders = listed
      .filter((c) => holdsShard(c, shard))
      .map((c) => c.nodeId)
      .sort(compareIds);
    const last = runs.at(-1);
    if (last && last.span.end === shard && last.holders.join() === holders.join()) last.span.end = shard + 1;
    else runs.push({ span: { start: shard, end: shard + 1 }, holders });
  }
  return runs
    .map(({ span, holders }) =>
      holders.length === 0
        ? `${formatSpan(span)} ${span.end - span.start === 1 ? 'has' : 'have'} no live node`
        : `${formatSpan(span)}'s ${holders.length} node(s) are unreachable, full, banned or run another engine version or Forward protocol`,
    )
    .join('; ');
}

const compareIds = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const sameCost = (a: number, b: number): boolean =>
  Math.abs(a - b) <= COST_TOLERANCE * Math.max(1, Math.abs(a), Math.abs(b));

/** A route from boundary 0 to `at`: its last hop and the route before it. */
interface PartialRoute {
  readonly at: number;
  readonly cost: number;
  readonly hops: number;
  /** Hops through nodes this client has not measured: a tie goes to the route with fewer. */
  readonly unmeasured: number;
  /** cost + the cheapest way on from `at`, node reuse allowed: a lower bound of any route through it. */
  readonly bound: number;
  readonly last?: { readonly node: Candidate; readonly start: number };
  readonly before?: PartialRoute;
  /** `at` and the nodes used that could still serve a later hop: all that limits the rest of the route. */
  readonly key: string;
}

function hopsOf(route: PartialRoute): RouteHop[] {
  const hops: RouteHop[] = [];
  for (let p: PartialRoute | undefined = route; p?.last !== undefined; p = p.before) {
    const { node, start } = p.last;
    hops.push({ nodeId: node.nodeId, endpoint: node.endpoint, shardIndex: start, shardEnd: p.at, tls: node.tls });
  }
  return hops.reverse();
}

function uses(route: PartialRoute, node: Candidate): boolean {
  for (let p: PartialRoute | undefined = route; p?.last !== undefined; p = p.before)
    if (p.last.node.nodeId === node.nodeId) return true;
  return false;
}

/**
 * Whether `a` is the better of two routes over the same boundaries: cheaper, then fewer hops, then
 * fewer unmeasured nodes, then the lower node ids in route order, then the shorter first hops. Each
 * rule keeps its order when both routes go on the same way, so a partial route that loses to
 * another ending at the same boundary with the same nodes still available never needs extending.
 */
function better(a: PartialRoute, b: PartialRoute): boolean {
  if (!sameCost(a.cost, b.cost)) return a.cost < b.cost;
  if (a.hops !== b.hops) return a.hops < b.hops;
  if (a.unmeasured !== b.unmeasured) return a.unmeasured < b.unmeasured;
  const x = hopsOf(a);
  const y = hopsOf(b);
  for (let i = 0; i < x.length; i++) {
    if (x[i]!.nodeId !== y[i]!.nodeId) return x[i]!.nodeId < y[i]!.nodeId;
    if (x[i]!.shardEnd !== y[i]!.shardEnd) return x[i]!.shardEnd < y[i]!.shardEnd;
  }
  return false;
}

/**
 * The best route over `nodes`, which cover every shard (so one exists: from each boundary take the
 * node reaching furthest). A best-first search over partial routes, one kept per key (the boundary
 * reached and the nodes used that could still serve a later hop); the bound of a partial route is
 * its cost plus the cheapest way on without the one-use rule, so the first complete route taken is
 * the cheapest, and the search goes on only through routes that may tie it. A partial route bound
 * to cost more than a complete one already found is never kept.
 */
function cheapestRoute(shards: number, nodes: readonly Candidate[], unmeasuredUsPerShard: number): RouteHop[] {
  const models = new Map(nodes.map((c) => [c, costModel(c, unmeasuredUsPerShard)]));
  const cost = (c: Candidate, start: number, end: number) => models.get(c)!(end - start);
  // rest[b]: the cheapest way from boundary b to the end, a node usable more than once
  const rest = new Array<number>(shards + 1).fill(Infinity);
  rest[shards] = 0;
  for (let start = shards - 1; start >= 0; start--)
    for (const c of nodes)
      if (holdsShard(c, start))
        for (let end = start + 1; end <= c.shardEnd; end++)
          rest[start] = Math.min(rest[start]!, cost(c, start, end) + rest[end]!);

  const byKey = new Map<string, PartialRoute>();
  const queue = new RouteQueue();
  // the cost of the cheapest complete route offered so far
  let ceiling = Infinity;
  const beyondCeiling = (bound: number) => bound > ceiling && !sameCost(bound, ceiling);
  const offer = (p: PartialRoute) => {
    if (beyondCeiling(p.bound)) return;
    const held = byKey.get(p.key);
    if (held && !better(p, held)) return;
    byKey.set(p.key, p);
    queue.push(p);
    if (p.at === shards) ceiling = Math.min(ceiling, p.cost);
  };
  const extend = (p: PartialRoute, node: Candidate, end: number): PartialRoute => {
    const next = p.cost + cost(node, p.at, end);
    const open: string[] = [];
    for (let q: PartialRoute | undefined = p; q?.last !== undefined; q = q.before)
      if (q.last.node.shardEnd > end) open.push(q.last.node.nodeId);
    if (node.shardEnd > end) open.push(node.nodeId);
    return {
      at: end,
      cost: next,
      hops: p.hops + 1,
      unmeasured: p.unmeasured + (node.measuredUsPerToken === undefined ? 1 : 0),
      bound: next + rest[end]!,
      last: { node, start: p.at },
      before: p,
      key: `${end}|${open.sort(compareIds).join(',')}`,
    };
  };
  offer({ at: 0, cost: 0, hops: 0, unmeasured: 0, bound: rest[0]!, key: '0|' });
  let best: PartialRoute | undefined;
  for (let p = queue.pop(); p !== undefined; p = queue.pop()) {
    if (best && beyondCeiling(p.bound)) break;
    if (byKey.get(p.key) !== p) continue; // a better route to the same place came since
    if (p.at === shards) {
      if (!best || better(p, best)) best = p;
      continue;
    }
    for (const node of nodes) {
      if (!holdsShard(node, p.at) || uses(p, node)) continue;
      // ends from the furthest: a complete route, offered first, lowers the ceiling for the rest
      for (let end = node.shardEnd; end > p.at; end--) {
        const bound = p.cost + cost(node, p.at, end) + rest[end]!;
        if (!beyondCeiling(bound)) offer(extend(p, node, end));
      }
    }
  }
  // nodes cover every shard, so some complete route was reached
  return hopsOf(best!);
}

/** Partial routes, lowest bound first (a binary heap). */
class RouteQueue {
  private readonly heap: PartialRoute[] = [];

  push(p: PartialRoute): void {
    const heap = this.heap;
    heap.push(p);
    for (let i = heap.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.bound <= heap[i]!.bound) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  pop(): PartialRoute | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last !== undefined) {
      heap[0] = last;
      for (let i = 0; ;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let least = i;
        if (left < heap.length && heap[left]!.bound < heap[least]!.bound) least = left;
        if (right < heap.length && heap[right]!.bound < heap[least]!.bound) least = right;
        if (least === i) break;
        [heap[least], heap[i]] = [heap[i]!, heap[least]!];
        i = least;
      }
    }
    return top;
  }
}
