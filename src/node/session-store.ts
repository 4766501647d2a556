import type { KvCache } from '../model/kv-cache.ts';
import { ForwardReason, NodeStatusError, sessionExpired } from '../protocol/forward-status.ts';

export interface SessionStoreOptions {
  readonly maxSessions: number;
  /** KV-cache bytes for all sessions together. */
  readonly cacheBytes: number;
  /** A session unused this long is evicted. */
  readonly idleTimeoutMs: number;
  readonly now?: () => number;
}

export type EvictionReason = 'idle' | 'room';

/** One open session: its KV cache, and what to do when the store evicts it. */
export class Session {
  lastUsedMs: number;
  bytes = 0;
  #cache: KvCache | undefined;

  constructor(
    readonly id: string,
    cache: KvCache,
    nowMs: number,
    readonly onEvict: (reason: EvictionReason) => void,
  ) {
    this.#cache = cache;
    this.lastUsedMs = nowMs;
  }

  get evicted(): boolean {
    return this.#cache === undefined;
  }

  /** The session's KV cache; SESSION_EXPIRED once evicted (the memory is given back at eviction). */
  get cache(): KvCache {
    if (this.#cache === undefined) throw sessionExpired(this.id);
    return this.#cache;
  }

  dropCache(): void {
    this.#cache?.release();
    this.#cache = undefined;
    this.bytes = 0;
  }
}

/**
 * The sessions of a node under a byte budget and a session count: least recently used sessions
 * make room for others, idle ones go after a TTL. An evicted session stays known to its stream,
 * whose next step is answered SESSION_EXPIRED.
 */
export class SessionStore {
  /** In least-recently-used-first order (a Map keeps insertion order; touching re-inserts). */
  private readonly sessions = new Map<Session, true>();
  private readonly now: () => number;

  constructor(private readonly options: SessionStoreOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.sessions.size;
  }

  get totalBytes(): number {
    let total = 0;
    for (const session of this.sessions.keys()) total += session.bytes;
    return total;
  }

  open(id: string, cache: KvCache, onEvict: (reason: EvictionReason) => void): Session {
    this.sweep();
    if (this.sessions.size >= this.options.maxSessions) {
      throw new NodeStatusError(
        ForwardReason.NODE_FULL,
        'resource_exhausted',
        `node is serving its maximum of ${this.options.maxSessions} sessions; try another node holding these shards`,
      );
    }
    const session = new Session(id, cache, this.now(), onEvict);
    this.sessions.set(session, true);
    return session;
  }

  /** Marks a session used now; a session evicted meanwhile is SESSION_EXPIRED. */
  touch(session: Session): void {
    if (session.evicted || !this.sessions.has(session)) throw sessionExpired(session.id);
    session.lastUsedMs = this.now();
    this.sessions.delete(session);
    this.sessions.set(session, true);
  }

  /** Evicts least recently used other sessions until `session` can hold `bytes` within the budget. */
  makeRoom(session: Session, bytes: number): void {
    if (bytes > this.options.cacheBytes) {
      throw new NodeStatusError(
        ForwardReason.CACHE_FULL,
        'resource_exhausted',
        `session ${session.id} needs ${bytes} bytes of KV cache, this node's budget for all sessions is ${this.options.cacheBytes}`,
      );
    }
    let total = this.totalBytes - session.bytes + bytes;
    for (const other of this.sessions.keys()) {
      if (total <= this.options.cacheBytes) break;
      if (other === session || other.bytes === 0) continue;
      total -= other.bytes;
      this.evict(other, 'room');
    }
  }

  /** Records what the session's cache holds now, evicting others if that went past the budget. */
  account(session: Session): void {
    if (session.evicted) return;
    const bytes = session.cache.bytes;
    this.makeRoom(session, bytes);
    session.bytes = bytes;
  }

  /** Forgets a session whose stream ended. */
  release(session: Session): void {
    this.sessions.delete(session);
    session.dropCache();
  }

  /** Evicts sessions idle longer than the TTL. */
  sweep(): void {
    const cutoff = this.now() - this.options.idleTimeoutMs;
    for (const session of [...this.sessions.keys()]) if (session.lastUsedMs <= cutoff) this.evict(session, 'idle');
  }

  private evict(session: Session, reason: EvictionReason): void {
    this.sessions.delete(session);
    session.dropCache();
    session.onEvict(reason);
  }
}
