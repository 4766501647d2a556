import type { RouteHop } from './routing.ts';

/** What this client measured of one node's service. */
export interface ServiceMeasure {
  /** Moving average of the node's share of a decode step's time, in microseconds. */
  readonly usPerToken?: number;
  /** Steps it served with a result whose commitments checked out. */
  readonly goodSteps: number;
}

/** Weight of the newest step in the moving average: recent service counts, one slow step does not dominate. */
const EWMA_WEIGHT = 0.2;

/**
 * The client's own record of how each node served it, for route choice (src/client/routing.ts):
 * the time of each checked decode step, shared equally among the route's hops (this client sees a
 * step end to end only; a node is measured across the routes it is in), and how many such steps it
 * served. A failure pinned on a node sends it back to probation: its good service starts again.
 */
export class ServiceRecord {
  private readonly measures = new Map<string, { usPerToken?: number; goodSteps: number }>();

  /** A step whose result checked out: `elapsedUs` from sending it to its result, over `positions` positions. */
  served(route: readonly RouteHop[], elapsedUs: number, positions: number): void {
    for (const hop of route) {
      const m = this.measures.get(hop.nodeId) ?? { goodSteps: 0 };
      m.goodSteps++;
      // a prefill's time says little of a decode step's: only single positions are timed
      if (positions === 1 && Number.isFinite(elapsedUs) && elapsedUs >= 0) {
        const share = elapsedUs / route.length;
        m.usPerToken = m.usPerToken === undefined ? share : m.usPerToken + EWMA_WEIGHT * (share - m.usPerToken);
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
