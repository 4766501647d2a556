import type { HopFailure } from './pipeline-session.ts';
import type { RouteHop } from './routing.ts';

/** What a failure costs the nodes of its route: bans (a short one for a busy node) and a pause before retrying. */
export interface Verdict {
  readonly bans: readonly { readonly nodeId: string; readonly durationMs?: number }[];
  /** Wait this long before the next route: the node that refused may free up. */
  readonly waitMs: number;
  /** Whether the nodes' cached load must be asked again. */
  readonly reprobe: boolean;
}

/** How long a node that refused for being busy is set aside: long enough not to hammer it, short enough to see it free. */
export const BUSY_BACKOFF_MS = 250;

/** Whether the node at `hop` answers Info as itself. */
export type Alive = (hop: RouteHop) => Promise<boolean>;

/**
 * Whom a failure is pinned on. The first hop's word about itself is first-hand. A deeper hop is
 * named only with a report signed by the hop that saw it fail (itself, or the hop before it), for
 * this session (src/protocol/failure-report.ts): a name no such report backs bans nobody it names,
 * and the first hop, which delivered it (every hop checks the reports it relays), is set aside. A
 * signed report about a deeper hop's own failure bans that hop; one about the reporter's next hop
 * bans that hop alone when this client sees it fail too (it does not answer Info), and otherwise
 * both: they disagree where this client cannot see, and banning only one would let the other get
 * honest nodes banned for free (a next hop that fails only towards its relay, or a relay that lies). Commitment failures this client checked
 * itself. A failure that names nobody (the connection broke, a step timed out) is pinned on the hops
 * that do not answer Info. A busy node is set aside only for a moment.
 */
export async function blame(route: readonly RouteHop[], failure: HopFailure, alive: Alive): Promise<Verdict> {
  const none: Verdict = { bans: [], waitMs: 0, reprobe: false };
  const first = route[0];
  if (failure.kind === 'expired' || failure.kind === 'stale' || failure.kind === 'caller' || first === undefined)
    return none;
  const named = route.find((hop) => hop.nodeId === failure.failedNodeId);
  if (failure.kind === 'busy') {
    // A deeper hop's refusal shows up in its next probe; only the first hop's own is acted on.
    if (named === first)
      return { bans: [{ nodeId: first.nodeId, durationMs: BUSY_BACKOFF_MS }], waitMs: 0, reprobe: true };
    return { bans: [], waitMs: BUSY_BACKOFF_MS, reprobe: true };
  }
  if (failure.kind === 'commitment' && failure.failedNodeId !== undefined)
    return { ...none, bans: [{ nodeId: failure.failedNodeId }] };
  if (named === first) return { ...none, bans: [{ nodeId: first.nodeId }] };
  if (failure.failedNodeId !== undefined && (named === undefined || failure.reporter === undefined))
    return { ...none, bans: [{ nodeId: first.nodeId }] };
  if (named !== undefined) {
    if (failure.reporter === named.nodeId) return { ...none, bans: [{ nodeId: named.nodeId }] };
    // Still answering, the named hop and its reporter disagree where this client cannot see: both go,
    // so neither a lying reporter nor a next hop that fails only towards its relay gains by it.
    if (await alive(named)) return { ...none, bans: [{ nodeId: failure.reporter! }, { nodeId: named.nodeId }] };
    return { ...none, bans: [{ nodeId: named.nodeId }] };
  }
  const answers = await Promise.all(route.map(alive));
  return { ...none, bans: route.filter((_, i) => !answers[i]).map((hop) => ({ nodeId: hop.nodeId })) };
}
