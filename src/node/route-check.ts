import type { Hop__Output } from '../proto/tessera/v1/Hop.ts';
import type { DiscoveredNode } from '../registry/registry-client.ts';
import { ForwardReason, NodeStatusError } from '../protocol/forward-status.ts';
import { isLoopbackHost, splitEndpoint } from './endpoint-security.ts';
import { formatSpan, spanContains, spanOf } from '../model/shards/span.ts';

/**
 * Which nodes an Open may name around this one. A node dials the next hop its Open names, so that
 * hop must be a node the cluster lists, never an address a stranger picked.
 */
export interface RouteCheck {
  /**
   * Throws unless `hop` is a registered node of `modelId` whose held span contains the hop's, at the
   * endpoint (and TLS) the route gives.
   */
  checkNextHop(modelId: string, hop: Hop__Output): Promise<void>;
  /** Whether a peer at `peerHost` is the registered node `previous` names (it forwards many clients). */
  isPreviousHop(modelId: string, previous: Hop__Output, peerHost: string): Promise<boolean>;
  close(): void;
}

export type Discover = (modelId: string) => Promise<readonly DiscoveredNode[]>;

export interface RegistryRouteCheckOptions {
  /** A listing younger than this answers without asking the registry. Default 5 s. */
  readonly maxAgeMs?: number;
  /**
   * A hop missing from the listing asks again, at most this often: the Open waits for that ask (a
   * node that just registered is found, and misses never make every Open ask). Default 500 ms.
   */
  readonly minRefreshMs?: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const notRegistered = (hop: Hop__Output, modelId: string) =>
  new NodeStatusError(
    ForwardReason.NEXT_HOP_NOT_REGISTERED,
    'failed_precondition',
    `next hop ${hop.nodeId} at ${hop.endpoint} is not a registered node of ${modelId} holding ${formatSpan(spanOf(hop))}; route through nodes the registry lists, for spans they hold`,
  );

interface Listing {
  readonly atMs: number;
  readonly nodes: Promise<readonly DiscoveredNode[]>;
}

/** Checks routes against the registry's Discover, each model's listing cached briefly. */
export class RegistryRouteCheck implements RouteCheck {
  private readonly listings = new Map<string, Listing>();
  /** The one later ask that Opens naming a hop missing from a fresh listing wait for, by model. */
  private readonly laterAsks = new Map<string, Promise<readonly DiscoveredNode[]>>();
  private readonly maxAgeMs: number;
  private readonly minRefreshMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly discover: Discover,
    private readonly closeRegistry: () => void,
    options: RegistryRouteCheckOptions = {},
  ) {
    this.maxAgeMs = options.maxAgeMs ?? 5_000;
    this.minRefreshMs = options.minRefreshMs ?? 500;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()));
  }

  async checkNextHop(modelId: string, hop: Hop__Output): Promise<void> {
    if (!(await this.find(modelId, hop))) throw notRegistered(hop, modelId);
  }

  async isPreviousHop(modelId: string, previous: Hop__Output, peerHost: string): Promise<boolean> {
    let host: string;
    try {
      host = splitEndpoint(previous.endpoint).host;
    } catch {
      return false;
    }
    if (host !== peerHost) return false;
    try {
      return (await this.find(modelId, previous)) !== undefined;
    } catch {
      return false;
    }
  }

  close(): void {
    this.closeRegistry();
  }

  private async find(modelId: string, hop: Hop__Output): Promise<DiscoveredNode | undefined> {
    const match = (nodes: readonly DiscoveredNode[]) =>
      nodes.find(
        (n) =>
          n.nodeId === hop.nodeId &&
          spanContains(spanOf(n), spanOf(hop)) &&
          n.endpoint === hop.endpoint &&
          n.tls === hop.tls,
      );
    const cached = this.listings.get(modelId);
    const age = cached === undefined ? Infinity : this.now() - cached.atMs;
    if (cached && age < this.maxAgeMs) {
      const found = match(await cached.nodes);
      if (found) return found;
      if (age < this.minRefreshMs) return match(await this.askLater(modelId, cached, this.minRefreshMs - age));
    }
    return match(await this.refresh(modelId));
  }

  private askLater(modelId: string, cached: Listing, delayMs: number): Promise<readonly DiscoveredNode[]> {
    let ask = this.laterAsks.get(modelId);
    if (!ask) {
      ask = this.sleep(delayMs).then(() => {
        this.laterAsks.delete(modelId);
        const current = this.listings.get(modelId);
        return current && current !== cached ? current.nodes : this.refresh(modelId);
      });
      this.laterAsks.set(modelId, ask);
    }
    return ask;
  }

  private refresh(modelId: string): Promise<readonly DiscoveredNode[]> {
    const nodes = this.discover(modelId).catch((error: unknown) => {
      this.listings.delete(modelId);
      throw new NodeStatusError(
        ForwardReason.NEXT_HOP_UNVERIFIED,
        'unavailable',
        `cannot ask the registry which nodes serve ${modelId}: ${(error as { details?: string }).details || (error as Error).message}`,
      );
    });
    // Concurrent Opens share one Discover.
    this.listings.set(modelId, { atMs: this.now(), nodes });
    return nodes;
  }
}

/**
 * A node with no registry can only be part of a chain on one machine: next hops on loopback only.
 */
export class LoopbackRouteCheck implements RouteCheck {
  async checkNextHop(_modelId: string, hop: Hop__Output): Promise<void> {
    let loopback = false;
    try {
      loopback = isLoopbackHost(splitEndpoint(hop.endpoint).host);
    } catch {
      // not HOST:PORT: refused below
    }
    if (!loopback)
      throw new NodeStatusError(
        ForwardReason.NEXT_HOP_NOT_REGISTERED,
        'failed_precondition',
        `next hop ${hop.nodeId} at ${hop.endpoint} is not on this machine, and this node has no registry to check it against`,
      );
  }

  async isPreviousHop(_modelId: string, previous: Hop__Output, peerHost: string): Promise<boolean> {
    try {
      return isLoopbackHost(peerHost) && splitEndpoint(previous.endpoint).host === peerHost;
    } catch {
      return false;
    }
  }

  close(): void {}
}
