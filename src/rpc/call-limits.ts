import { TesseraError } from '../core/errors.ts';
import type { MethodPolicy, RateRule } from './method-policy.ts';
import { peerHost, RateLimiter } from './rate-limit.ts';

/** A bucket's numbers, set by the role's own configuration (e.g. the cluster config's rateLimit). */
export type RateOverrides = Readonly<Record<string, { readonly perSecond: number; readonly burst: number }>>;

/**
 * The token buckets of one server: per caller host and per signing key, one set per bucket name of
 * the method policies (methods naming one bucket share it).
 */
export class CallLimits {
  readonly #limiters = new Map<string, RateLimiter>();

  constructor(private readonly overrides: RateOverrides = {}) {}

  /** Takes a token for the caller's host; the refusal when it has none. */
  peer(method: string, policy: MethodPolicy, peer: string, nowMs: number): TesseraError | undefined {
    if (policy.perPeer === undefined) return undefined;
    const host = peerHost(peer);
    return this.#take('peer', policy.perPeer, host, nowMs, `${method} from ${host}`);
  }

  /** Takes a token for the signing key; throws the refusal when it has none. Call once the signature is checked. */
  key(method: string, policy: MethodPolicy, key: string, nowMs: number): void {
    if (policy.perKey === undefined) return;
    const refusal = this.#take('key', policy.perKey, key, nowMs, `${method} signed by ${key}`);
    if (refusal !== undefined) throw refusal;
  }

  #take(scope: 'peer' | 'key', rule: RateRule, who: string, nowMs: number, what: string): TesseraError | undefined {
    const name = `${scope}:${rule.bucket}`;
    let limiter = this.#limiters.get(name);
    if (limiter === undefined) {
      const numbers = this.overrides[rule.bucket] ?? rule;
      limiter = new RateLimiter(numbers.perSecond, numbers.burst);
      this.#limiters.set(name, limiter);
    }
    const waitMs = limiter.take(who, nowMs);
    if (waitMs === 0) return undefined;
    return new TesseraError(
      'RATE_LIMITED',
      'resource_exhausted',
      `rate limit: more than ${limiter.burst} ${rule.bucket} calls (${what}) at ${limiter.perSecond}/s; retry in ${waitMs} ms`,
    );
  }
}
