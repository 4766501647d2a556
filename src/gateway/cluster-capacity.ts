import type { ClusterStatus, TesseraClient } from '../client/client.ts';

/**
 * Sessions one client key may hold on a node of `maxSessions`: a node gives each client key a
 * quarter of its sessions by default (src/node/node-server.ts, maxSessionsPerClient), and the
 * gateway is one client. Discovery does not carry the node's own figure, so this assumes the default;
 * a node that refuses for its quota is only avoided for a while, so a wrong guess costs retries.
 */
export function sessionsPerClient(maxSessions: number): number {
  return Math.max(1, Math.floor(maxSessions / 4));
}

/**
 * Sessions the network can hold at once for this gateway: for each model, its narrowest shard (the
 * sum over the nodes holding it of what one client may hold there), summed over models. A node
 * holding a span counts at each shard of it, as a route takes it for one hop over any part of it.
 */
export function servingCapacity(status: ClusterStatus): number {
  let total = 0;
  for (const model of status.models) {
    if (model.shardsCoverage.length === 0) continue;
    total += Math.min(
      ...model.shardsCoverage.map((s) => s.nodes.reduce((sum, n) => sum + sessionsPerClient(n.maxSessions), 0)),
    );
  }
  return total;
}

/**
 * The network's capacity as last read, refreshed in the background when older than `maxAgeMs`.
 * Until a read succeeds, or while no node serves, it is 1: requests then go one at a time and learn
 * from the network why it cannot serve them.
 */
export class CapacityWatch {
  #value = 1;
  #readAtMs = -Infinity;
  #reading?: Promise<void>;

  constructor(
    private readonly client: TesseraClient,
    private readonly maxAgeMs: number,
    private readonly onChange: () => void,
  ) {}

  get value(): number {
    return this.#value;
  }

  /** Waits for the first read; later reads run in the background while the last value serves. */
  async fresh(): Promise<void> {
    if (performance.now() - this.#readAtMs < this.maxAgeMs) return;
    const reading = this.#read();
    if (this.#readAtMs === -Infinity) await reading;
  }

  #read(): Promise<void> {
    this.#reading ??= this.client
      .status()
      .then(
        (status) => {
          const capacity = servingCapacity(status);
          this.#value = Math.max(1, capacity);
          // no capacity yet (nodes still joining): read again at the next request
          this.#readAtMs = capacity > 0 ? performance.now() : -Infinity;
          this.onChange();
        },
        () => {
          // the registries did not answer: requests will say so; read again at the next one
        },
      )
      .finally(() => (this.#reading = undefined));
    return this.#reading;
  }
}
