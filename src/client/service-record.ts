import type { RouteHop } from './routing.ts';

/** What this client measured of one node's service. */
export interface ServiceMeasure {
  /** Moving average of the node's time per shard it ran in a decode step, in microseconds. */
  readonly usPerShard?: number;
  /** Steps it served with a result whose commitments checked out. */
  readonly goodSteps: number;
}

/** Weight of the newest step in the moving average: recent service counts, one slow step does not dominate. */
const EWMA_WEIGHT = 0.2;

/**
 * The client's own record of how each node served it, for route choice (src/client/routing.ts):
 * the time of each checked decode step, shared among the route's hops by the shards each ran (this
 * client sees a step end to end only; a node is measured across the routes it is in, whatever part
 * of its held span they used), and how many such steps it served. A failure pinned on a node sends
 * it back to probation: its good service starts again.
 */
export class ServiceRecord {
  private readonly measures = new Map<string, { usPerShard?: number; goodSteps: number }>();

  /** A step whose result checked out: `elapsedUs` from sending it to its result, over `positions` positions. */
  served(route: readonly RouteHop[], elapsedUs: number, positions: number): void {
    const shards = route.reduce((sum, hop) => sum + (hop.shardEnd - hop.shardIndex), 0);
    for (const hop of route) {
      const m = this.measures.get(hop.nodeId) ?? { goodSteps: 0 };
      m.goodSteps++;
      // a prefill's time says little of a decode step's: only single positions are timed
      if (positions === 1 && Number.isFinite(elapsedUs) && elapsedUs >= 0 && shards > 0) {
        const share = elapsedUs / shards;
        m.usPerShard = m.usPerShard === undefined ? share : m.usPerShard + EWMA_WEIGHT * (share - m.usPerShard);
      }
      this.measures.set(hop.nodeId, m);
    }
  }

  /** The node failed this client: back to probation. */
  failed(nodeId: string): void {
    const m = this.measures.get(nodeId);
    if (m) m.goodSteps = 0;
  }

  of(nodeId: string): ServiceMeasure {
    return this.measures.get(nodeId) ?? { goodSteps: 0 };
  }
}
