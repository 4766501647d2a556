import type { Logger } from '../core/log.ts';
import { TesseraError } from '../core/errors.ts';
import { ENDPOINT_PATTERN } from './cluster-config.ts';
import { RegistryClient, type RegistryPeerInfo } from './registry-client.ts';
import { vouchesFor } from './registry-identity.ts';
import type { SignedPayload } from './signed-payload.ts';
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
  /** The cluster config's seeds and the operator's own: trusted by endpoint. */
  readonly seeds: readonly string[];
  /** Addresses of the keys that sign this cluster's registry identities (cluster config registryKeys). */
  readonly registryKeys: readonly string[];
  /** This registry's own identity for `self`, signed by its key; none: it is known only as a seed. */
  readonly identity?: SignedPayload;
  readonly intervalMs: number;
  readonly log: Logger;
}

/**
 * ExchangePeers gossip among the registries of one cluster, and only them: a registry dials, learns
 * and passes on a peer only when it is a seed of its configuration or shows an identity signed by a
 * registry key the cluster config lists. An endpoint that a caller names, or that merely answers
 * with the cluster's id, is never dialed nor advertised to clients (a client takes manifests and
 * tokenizers from whatever registry it is told of).
 */
export class PeerGossip {
  readonly #options: GossipOptions;
  readonly #seeds: ReadonlySet<string>;
  readonly #keys: ReadonlySet<string>;
  /** The identities that vouched for peers, by endpoint: passed on with them. */
  readonly #identities = new Map<string, SignedPayload>();
  readonly #timer: NodeJS.Timeout;
  #round: Promise<void> | undefined;
  /** The round's open calls, cancelled by close() so that shutdown never waits on a dead peer. */
  readonly #clients = new Set<RegistryClient>();
  #closed = false;

  constructor(options: GossipOptions) {
    this.#options = options;
    this.#seeds = new Set(options.seeds);
    this.#keys = new Set(options.registryKeys.map((k) => k.toLowerCase()));
    this.#timer = setInterval(() => this.#startRound(), options.intervalMs);
    this.#timer.unref();
    this.#startRound();
  }

  /**
   * The ExchangePeers answer. A calling registry (non-empty `callerEndpoint`) is learned when it is
   * a seed or its identity vouches for it, and refused UNKNOWN_REGISTRY otherwise; a client (empty
   * endpoint) just reads. The `known` list of a caller is never taken: it carries no identities.
   */
  answer(callerEndpoint: string, callerIdentity: SignedPayload | null, nowMs: number): RegistryPeerInfo[] {
    const { store, self, clusterId } = this.#options;
    if (callerEndpoint !== '' && callerEndpoint !== self) {
      if (!ENDPOINT_PATTERN.test(callerEndpoint) || !this.#trust(callerEndpoint, callerIdentity)) {
        throw new TesseraError(
          'UNKNOWN_REGISTRY',
          'permission_denied',
          `${callerEndpoint} is neither a seed of this registry nor shows an identity signed by a registry key of cluster "${clusterId}": list it in the cluster config's seeds or its key in registryKeys`,
        );
      }
      store.learnPeer(callerEndpoint, nowMs, MAX_PEERS);
    }
    const fresh = nowMs - this.#forgetAfterMs();
    const peers = store
      .peers()
      .filter(
        (p) => p.clusterId === clusterId && p.lastSeenMs >= fresh && p.endpoint !== self && this.#trusted(p.endpoint),
      )
      .map((p) => this.#info(p.endpoint, p.clusterId, p.lastSeenMs));
    return [this.#info(self, clusterId, nowMs, this.#options.identity), ...peers];
  }

  /** Stops gossiping and waits for a round in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    for (const client of this.#clients) client.close();
    await this.#round;
  }

  #info(endpoint: string, clusterId: string, lastSeenMs: number, identity = this.#identities.get(endpoint)) {
    return { endpoint, clusterId, lastSeenMs, ...(identity === undefined ? {} : { identity }) };
  }

  /** A seed, or a peer whose identity was checked: remembered with it. */
  #trust(endpoint: string, identity: SignedPayload | null | undefined): boolean {
    if (this.#seeds.has(endpoint)) return true;
    if (!vouchesFor(identity, endpoint, this.#options.clusterId, this.#keys)) return false;
    this.#identities.set(endpoint, { payload: identity!.payload, signature: identity!.signature });
    return true;
  }

  #trusted(endpoint: string): boolean {
    return this.#seeds.has(endpoint) || this.#identities.has(endpoint);
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
    const { store, self, clusterId, seeds, intervalMs, identity } = this.#options;
    store.forgetPeers(Date.now() - this.#forgetAfterMs());
    const known = store.peers();
    // Peers learned before this rule (or whose identity this process has not seen) are dropped, not dialed.
    for (const peer of known) if (!this.#trusted(peer.endpoint)) store.forgetPeer(peer.endpoint);
    // Registries of another cluster are not asked again; they stay until forgotten.
    const targets = [
      ...new Set([
        ...seeds,
        ...known
          .filter((p) => (p.clusterId === '' || p.clusterId === clusterId) && this.#trusted(p.endpoint))
          .map((p) => p.endpoint),
      ]),
    ].filter((e) => e !== self);
    const mine = known.filter((p) => p.clusterId === clusterId && this.#trusted(p.endpoint)).map((p) => p.endpoint);
    await Promise.all(
      targets.map(async (endpoint) => {
        const client = new RegistryClient(endpoint, { deadlineMs: Math.min(intervalMs, 5_000) });
        this.#clients.add(client);
        try {
          const peers = await client.exchangePeers(self, mine, identity);
          if (this.#closed) return;
          const now = Date.now();
          const [answering, ...others] = peers;
          if (answering === undefined) return;
          if (answering.clusterId !== clusterId) {
            store.peerAnswered(endpoint, answering.clusterId, now);
            return this.#options.log('peer_other_cluster', { endpoint, clusterId: answering.clusterId });
          }
          if (answering.endpoint !== endpoint || !this.#trust(endpoint, answering.identity)) {
            store.forgetPeer(endpoint);
            return this.#options.log('peer_unverified', { endpoint });
          }
          store.peerAnswered(endpoint, answering.clusterId, now);
          for (const peer of others) {
            if (
              peer.endpoint !== self &&
              peer.endpoint !== endpoint &&
              ENDPOINT_PATTERN.test(peer.endpoint) &&
              this.#trust(peer.endpoint, peer.identity)
            )
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
