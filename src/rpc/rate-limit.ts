/** A token bucket per key: `burst` calls at once, refilled at `perSecond`. */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(
    readonly perSecond: number,
    readonly burst: number,
    /** Buckets kept at most; beyond it the full (idle) ones are forgotten, as they hold no debt. */
    readonly maxKeys = 10_000,
  ) {}

  /** Takes one token for `key`; returns 0 when allowed, else the milliseconds until a token is due. */
  take(key: string, nowMs: number): number {
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.maxKeys) this.#makeRoom(nowMs);
      bucket = { tokens: this.burst, atMs: nowMs };
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((nowMs - bucket.atMs) / 1000) * this.perSecond);
    bucket.atMs = nowMs;
    // Re-inserted so the Map's order is least recently seen first.
    this.#buckets.delete(key);
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) / this.perSecond) * 1000);
  }

  #makeRoom(nowMs: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + ((nowMs - bucket.atMs) / 1000) * this.perSecond >= this.burst) this.#buckets.delete(key);
    }
    // Still full of indebted peers: drop the least recently seen.
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size < this.maxKeys) break;
      this.#buckets.delete(key);
    }
  }
}

/** The address part of a grpc-js peer string ("ipv4:127.0.0.1:5000", "[::1]:5000"): one bucket per host, whatever its source port. */
export function peerHost(peer: string): string {
  const bare = peer.replace(/^(ipv4|ipv6|unix):/, '');
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(bare);
  if (bracketed) return bracketed[1]!;
  const ipv4 = /^([^:]+):\d+$/.exec(bare);
  if (ipv4) return ipv4[1]!;
  // grpc-js writes an IPv6 peer unbracketed ("::ffff:127.0.0.1:53211"): the port is what follows the last colon.
  const ipv6 = /^([0-9a-fA-F:.]*:[0-9a-fA-F:.]*):\d+$/.exec(bare);
  return ipv6 ? ipv6[1]! : bare;
}
