/**
 * Route choice: one node per shard, minimizing the expected time per token. A token crosses every
 * hop once, so the expected time is the sum over hops of (round trip to the node + the node's own
 * compute time per token); each hop can be chosen independently. Load and price only break ties:
 * they add a small penalty, never enough to prefer a node that is clearly slower.
 */

/** A live node as discovery reports it, with the round trip this client measured to it. */
export interface Candidate {
  readonly nodeId: string;
  readonly endpoint: string;
  readonly shardIndex: number;
  readonly activeSessions: number;
  readonly maxSessions: number;
  readonly computeUsPerToken: number;
  readonly pricePer1kTokens: number;
  readonly tls: boolean;
  /** Measured with the Node Info RPC; undefined when the node did not answer. */
  readonly rttUs?: number;
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
  ) {
    super(`no route for model ${modelId}: ${detail}`);
  }
}

/** Expected microseconds per token through this node, with the tie-breaking penalties. */
export function hopCost(candidate: Candidate): number {
  const time = (candidate.rttUs ?? Infinity) + candidate.computeUsPerToken;
  const load = candidate.maxSessions > 0 ? candidate.activeSessions / candidate.maxSessions : 1;
  return time * (1 + LOAD_PENALTY * load) + PRICE_PENALTY_US * candidate.pricePer1kTokens;
}

/**
 * The cheapest route over `shards` shards. Nodes in `excluded` (banned), nodes that did not answer
 * the probe and nodes with no free session are left out; a shard with no node left is named.
 */
export function chooseRoute(
  modelId: string,
  shards: number,
  candidates: readonly Candidate[],
  excluded: ReadonlySet<string> = new Set(),
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
    let best = usable[0]!;
    for (const c of usable) {
      const cost = hopCost(c);
      const bestCost = hopCost(best);
      if (cost < bestCost || (cost === bestCost && c.nodeId < best.nodeId)) best = c;
    }
    route.push({ nodeId: best.nodeId, endpoint: best.endpoint, shardIndex: shard, tls: best.tls });
  }
  if (missing.length > 0) throw new NoRouteError(modelId, missing, reasons.join('; '));
  return route;
}
