/**
 * Route choice: one node per shard, minimizing the expected time per token. A token crosses every
 * hop once, so the expected time is the sum over hops of (round trip to the node + the node's own
 * time per token); each hop can be chosen independently. Both are this client's measurements (the
 * Info probe, and the steps of its past sessions: src/client/service-record.ts), never what a node
 * says of itself: a node that claims to compute in no time gains nothing by it. Load and price only
 * break ties: they add a small penalty, never enough to prefer a node that is clearly slower.
 *
 * A node with little measured good service is on probation: while its shard has established nodes
 * it gets a session only with a probability that starts at PROBATION_SHARE.min and grows with the
 * verified steps it served, to PROBATION_SHARE.max; at PROBATION_STEPS it competes on measured time
 * alone. A fresh key cannot draw a network's traffic to itself by claims.
 */

/** A live node as discovery reports it, with the round trip this client measured to it. */
export interface Candidate {
  readonly nodeId: string;
  readonly endpoint: string;
  readonly shardIndex: number;
  readonly activeSessions: number;
  readonly maxSessions: number;
  /** What the node says of its speed: shown, never used to choose (a claim anyone can make). */
  readonly computeUsPerToken: number;
  readonly pricePer1kTokens: number;
  readonly tls: boolean;
  /** Measured with the Node Info RPC; undefined when the node did not answer. */
  readonly rttUs?: number;
  /** This client's measure of the node's time per token from past sessions; undefined: none yet. */
  readonly measuredUsPerToken?: number;
  /** Steps the node served this client with a result whose commitments checked out. */
  readonly goodSteps?: number;
}

/** Verified steps after which a node is off probation. */
export const PROBATION_STEPS = 64;
/** A probationary node's chance of a session: `min` when new, growing linearly to `max` at PROBATION_STEPS. */
export const PROBATION_SHARE = { min: 0.05, max: 0.5 } as const;

/** The chance a probationary node with `goodSteps` verified steps gets a session over established ones. */
export function probationShare(goodSteps: number): number {
  const progress = Math.min(1, Math.max(0, goodSteps) / PROBATION_STEPS);
  return PROBATION_SHARE.min + (PROBATION_SHARE.max - PROBATION_SHARE.min) * progress;
}

export interface RouteHop {
  readonly nodeId: string;
  readonly endpoint: string;
  readonly shardIndex: number;
  readonly tls: boolean;
}

/** Share of the expected time added for a node whose sessions are all taken (linear in load). */
const LOAD_PENALTY = 0.1;
/** Microseconds of penalty per unit of price per 1000 tokens: a tie-breaker between equal nodes. */
const PRICE_PENALTY_US = 0.01;

export class NoRouteError extends Error {
  readonly code = 'NO_ROUTE';
  constructor(
    readonly modelId: string,
    readonly missingShards: readonly number[],
    detail: string,
    /** Every missing shard has listed nodes, only full, unreachable or set aside now: worth waiting a moment for. */
    readonly transient = false,
  ) {
    super(`no route for model ${modelId}: ${detail}`);
  }
}

/**
 * Expected microseconds per token through this node, with the tie-breaking penalties. A node not yet
 * measured counts `unmeasuredUs` (the slowest measure among its shard's nodes: no better than any).
 */
export function hopCost(candidate: Candidate, unmeasuredUs = 0): number {
  const time = (candidate.rttUs ?? Infinity) + (candidate.measuredUsPerToken ?? unmeasuredUs);
  const load = candidate.maxSessions > 0 ? candidate.activeSessions / candidate.maxSessions : 1;
  return time * (1 + LOAD_PENALTY * load) + PRICE_PENALTY_US * candidate.pricePer1kTokens;
}

/**
 * The cheapest route over `shards` shards, probationary nodes given their share (see above; `random`
 * draws it). Nodes in `excluded` (banned), nodes that did not answer the probe and nodes with no free
 * session are left out; a shard with no node left is named.
 */
export function chooseRoute(
  modelId: string,
  shards: number,
  candidates: readonly Candidate[],
  excluded: ReadonlySet<string> = new Set(),
  random: () => number = Math.random,
): RouteHop[] {
  const route: RouteHop[] = [];
  const missing: number[] = [];
  const reasons: string[] = [];
  for (let shard = 0; shard < shards; shard++) {
    const all = candidates.filter((c) => c.shardIndex === shard);
    const usable = all.filter(
      (c) => !excluded.has(c.nodeId) && c.rttUs !== undefined && c.activeSessions < c.maxSessions,
    );
    if (usable.length === 0) {
      missing.push(shard);
      reasons.push(
        all.length === 0
          ? `shard ${shard} has no live node`
          : `shard ${shard}'s ${all.length} node(s) are unreachable, full or banned`,
      );
      continue;
    }
    const measured = usable.map((c) => c.measuredUsPerToken).filter((us): us is number => us !== undefined);
    const unmeasuredUs = measured.length > 0 ? Math.max(...measured) : 0;
    const cheapest = (among: readonly Candidate[]) => {
      let best = among[0]!;
      // a tie goes to the node this client measured, then to the lower id
      const rank = (c: Candidate) => [hopCost(c, unmeasuredUs), c.measuredUsPerToken === undefined ? 1 : 0] as const;
      for (const c of among) {
        const [cost, unknown] = rank(c);
        const [bestCost, bestUnknown] = rank(best);
        if (
          cost !== bestCost ? cost < bestCost : unknown !== bestUnknown ? unknown < bestUnknown : c.nodeId < best.nodeId
        )
          best = c;
      }
      return best;
    };
    const established = usable.filter((c) => (c.goodSteps ?? 0) >= PROBATION_STEPS);
    const probation = usable.filter((c) => (c.goodSteps ?? 0) < PROBATION_STEPS);
    let best = cheapest(established.length > 0 ? established : probation);
    if (established.length > 0 && probation.length > 0) {
      const newcomer = cheapest(probation);
      if (random() < probationShare(newcomer.goodSteps ?? 0)) best = newcomer;
    }
    route.push({ nodeId: best.nodeId, endpoint: best.endpoint, shardIndex: shard, tls: best.tls });
  }
  if (missing.length > 0)
    throw new NoRouteError(
      modelId,
      missing,
      reasons.join('; '),
      missing.every((shard) => candidates.some((c) => c.shardIndex === shard)),
    );
  return route;
}
