import type { Logger } from '../core/log.ts';
import { ENDPOINT_PATTERN } from './cluster-config.ts';
import { RegistryClient, type RegistryPeerInfo } from './registry-client.ts';
import type { RegistryStore } from './store.ts';

/** Registries remembered at most: gossip from strangers cannot grow the table without bound. */
export const MAX_PEERS = 64;
/** A peer neither heard from nor heard of for this many rounds is forgotten. */
const FORGET_AFTER_ROUNDS = 10;

export interface GossipOptions {
  readonly store: RegistryStore;
  /** This registry's advertised endpoint. */
  readonly self: string;
  readonly clusterId: string;
  readonly seeds: readonly string[];
  readonly intervalMs: number;
  readonly log: Logger;
}

/**
 * ExchangePeers gossip: every round this registry asks its seeds and the peers it knows for theirs,
 * and answers others with itself first, then the peers of its cluster that answered recently.
 * Peers heard of second-hand are only passed on once they have answered this registry themselves.
 */
export class PeerGossip {
  readonly #options: GossipOptions;
  readonly #timer: NodeJS.Timeout;
  #round: Promise<void> | undefined;
  /** The round's open calls, cancelled by close() so that shutdown never waits on a dead peer. */
  readonly #clients = new Set<RegistryClient>();
  #closed = false;

  constructor(options: GossipOptions) {
    this.#options = options;
    this.#timer = setInterval(() => this.#startRound(), options.intervalMs);
    this.#timer.unref();
    this.#startRound();
  }

  /** The ExchangePeers answer; also learns the caller and the registries it names. */
  answer(callerEndpoint: string, known: readonly string[], nowMs: number): RegistryPeerInfo[] {
    const { store, self, clusterId } = this.#options;
    for (const endpoint of [callerEndpoint, ...known.slice(0, MAX_PEERS)]) {
      if (endpoint !== self && ENDPOINT_PATTERN.test(endpoint)) store.learnPeer(endpoint, nowMs, MAX_PEERS);
    }
    const fresh = nowMs - this.#forgetAfterMs();
    const peers = store
      .peers()
      .filter((p) => p.clusterId === clusterId && p.lastSeenMs >= fresh && p.endpoint !== self)
      .map((p) => ({ endpoint: p.endpoint, clusterId: p.clusterId, lastSeenMs: p.lastSeenMs }));
    return [{ endpoint: self, clusterId, lastSeenMs: nowMs }, ...peers];
  }

  /** Stops gossiping and waits for a round in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    for (const client of this.#clients) client.close();
    await this.#round;
  }

  #forgetAfterMs(): number {
    return FORGET_AFTER_ROUNDS * this.#options.intervalMs;
  }

  #startRound(): void {
    if (this.#round !== undefined || this.#closed) return;
    this.#round = this.#gossip()
      .catch((error: Error) => this.#options.log('gossip_failed', { error: error.message }))
      .finally(() => (this.#round = undefined));
  }

  async #gossip(): Promise<void> {
    const { store, self, clusterId, seeds, intervalMs } = this.#options;
    store.forgetPeers(Date.now() - this.#forgetAfterMs());
    const known = store.peers();
    // Registries of another cluster are not asked again; they stay until forgotten.
    const targets = [
      ...new Set([
        ...seeds,
        ...known.filter((p) => p.clusterId === '' || p.clusterId === clusterId).map((p) => p.endpoint),
      ]),
    ].filter((e) => e !== self);
    const mine = known.filter((p) => p.clusterId === clusterId).map((p) => p.endpoint);
    await Promise.all(
      targets.map(async (endpoint) => {
        const client = new RegistryClient(endpoint, { deadlineMs: Math.min(intervalMs, 5_000) });
        this.#clients.add(client);
        try {
          const peers = await client.exchangePeers(self, mine);
          if (this.#closed) return;
          const now = Date.now();
          const [answering, ...others] = peers;
          if (answering === undefined) return;
          store.peerAnswered(endpoint, answering.clusterId, now);
          if (answering.clusterId !== clusterId)
            return this.#options.log('peer_other_cluster', { endpoint, clusterId: answering.clusterId });
          for (const peer of [answering, ...others]) {
            if (peer.endpoint !== self && peer.endpoint !== endpoint && ENDPOINT_PATTERN.test(peer.endpoint))
              store.learnPeer(peer.endpoint, now, MAX_PEERS);
          }
        } catch (error) {
          if (!this.#closed) this.#options.log('peer_unreachable', { endpoint, error: (error as Error).message });
        } finally {
          this.#clients.delete(client);
          client.close();
        }
      }),
    );
  }
}
