import type { NodeInfo } from '../proto/tessera/v1/NodeInfo.ts';
import type { StakeGate, StakeReader } from './stake-gate.ts';
import type { NodeRecord } from './store.ts';

export interface ListingStakes {
  readonly gate: StakeGate;
  readonly reader: StakeReader;
}

/** A band a node announced in its stored capabilities (`tier`, `network`); '' for one that says none. */
export function capabilityOf(record: Pick<NodeRecord, 'capabilities'>, name: 'tier' | 'network'): string {
  try {
    const value = (JSON.parse(record.capabilities) as Record<string, unknown>)[name];
    return typeof value === 'string' ? value : '';
  } catch {
    return '';
  }
}

/**
 * Discover's answer for `live` compute nodes: those that may get new work, or (includeIneligible,
 * for `tessera status`) every one with whether it may. The state is what the node last reported,
 * except that the registry's own stakes decide UNSTAKING: a node cannot take work by not saying so,
 * and the operator sees the cooldown at once rather than at the node's next heartbeat.
 */
export async function listNodes(
  live: readonly NodeRecord[],
  stakes: ListingStakes | undefined,
  includeIneligible: boolean,
): Promise<NodeInfo[]> {
  const eligible = stakes === undefined ? new Set(live) : new Set(await stakes.gate.eligible(live, 'node'));
  const listed = includeIneligible ? live : live.filter((n) => eligible.has(n));
  return Promise.all(
    listed.map(async (n) => {
      const unstakingUntilMs =
        stakes !== undefined && !eligible.has(n) ? ((await stakes.reader.stakeOf(n.nodeId)).unstakingUntilMs ?? 0) : 0;
      return {
        nodeId: n.nodeId,
        endpoint: n.endpoint,
        shardIndex: n.shardIndex,
        shardEnd: n.shardEnd,
        activeSessions: n.activeSessions,
        maxSessions: n.maxSessions,
        computeUsPerToken: n.computeUsPerToken,
        pricePer_1kTokens: n.pricePer1kTokens,
        lastSeenMs: n.lastSeenMs,
        tls: n.tls,
        state: unstakingUntilMs > 0 ? 'UNSTAKING' : n.state === 'UNSTAKING' && eligible.has(n) ? 'READY' : n.state,
        unstakingUntilMs,
        tier: capabilityOf(n, 'tier'),
        network: capabilityOf(n, 'network'),
        eligible: eligible.has(n),
      };
    }),
  );
}
