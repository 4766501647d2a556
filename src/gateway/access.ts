import type { IncomingHttpHeaders } from 'node:http';
import { ApiError } from './api-error.ts';
import { ApiKeyMatcher } from './api-keys.ts';

/** Who may reach the gateway: by Host, by browser Origin and by API key. */
export interface AccessOptions {
  /**
   * Host names (no port) a request's Host header may name besides the loopback names; '*' allows
   * any. The loopback-only default is what stops DNS rebinding: a page on attacker.example whose
   * name is re-pointed at 127.0.0.1 still sends `Host: attacker.example`.
   */
  readonly allowedHosts?: readonly string[];
  /** Origins (scheme://host[:port]) whose pages may call the API, besides loopback ones; '*' allows any. */
  readonly allowedOrigins?: readonly string[];
  /** Bearer keys, any of which opens /v1; none: /v1 is open. */
  readonly apiKeys?: readonly string[];
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1']);

/** The host name of a Host header (`name`, `name:port`, `[v6]`, `[v6]:port`), lower case; undefined if malformed. */
export function hostNameOf(host: string): string | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]/@]+))(?::(\d{1,5}))?$/.exec(host);
  if (!match) return undefined;
  return (match[1] ?? match[2]!).toLowerCase();
}

function originOf(value: string): URL | undefined {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

const bare = (hostname: string) => hostname.replace(/^\[(.*)\]$/, '$1');

/** A request's admission by Host, Origin and API key, and the CORS headers an allowed origin gets. */
export class AccessGuard {
  readonly #hosts: Set<string>;
  readonly #origins: Set<string>;
  readonly #keys: ApiKeyMatcher;

  constructor(options: AccessOptions = {}) {
    this.#hosts = new Set([...LOOPBACK_NAMES, ...(options.allowedHosts ?? []).map((h) => bare(h.toLowerCase()))]);
    this.#origins = new Set(
      (options.allowedOrigins ?? []).map((o) => (o === '*' ? o : (originOf(o)?.origin ?? o.toLowerCase()))),
    );
    this.#keys = new ApiKeyMatcher(options.apiKeys ?? []);
  }

  /** Refuses a Host that is not ours (421) and an Origin that is not allowed (403); CORS headers otherwise. */
  checkSource(headers: IncomingHttpHeaders): Record<string, string> {
    const host = headers.host;
    const name = host === undefined ? undefined : hostNameOf(host);
    if (!this.#hosts.has('*') && (name === undefined || !this.#hosts.has(name)))
      throw new ApiError(
        'HOST_NOT_ALLOWED',
        'permission_denied',
        `this gateway does not serve Host ${JSON.stringify(host ?? '')}: it answers loopback names and the names given with --allow-host`,
        { status: 421 },
      );
    const origin = headers.origin;
    if (origin === undefined) return {};
    const url = originOf(origin);
    const allowed =
      url !== undefined &&
      (this.#origins.has('*') || this.#origins.has(url.origin) || LOOPBACK_NAMES.has(bare(url.hostname)));
    if (!allowed)
      throw new ApiError(
        'ORIGIN_NOT_ALLOWED',
        'permission_denied',
        `requests from web pages of origin ${JSON.stringify(origin)} are refused; allow it with --allow-origin`,
      );
    return { 'access-control-allow-origin': url.origin, vary: 'Origin' };
  }

  /** With API keys set, a request must carry `Authorization: Bearer KEY` with one of them (401). */
  checkKey(headers: IncomingHttpHeaders): void {
    if (!this.#keys.enabled) return;
    const match = /^Bearer +(\S+) *$/i.exec(headers.authorization ?? '');
    if (!match)
      throw new ApiError(
        'MISSING_API_KEY',
        'unauthenticated',
        'You did not provide an API key: send it as "Authorization: Bearer KEY"',
      );
    if (!this.#keys.matches(match[1]!))
      throw new ApiError('INVALID_API_KEY', 'unauthenticated', 'Incorrect API key provided');
  }
}

/** A browser's preflight: which methods and headers an allowed page may use. */
export const PREFLIGHT_HEADERS = {
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers': 'authorization, content-type',
  'access-control-max-age': '600',
};

/** A POST body must be declared JSON: a form or text/plain post is what a page may send without preflight. */
export function checkJsonContentType(headers: IncomingHttpHeaders): void {
  const type = (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json')
    throw new ApiError(
      'UNSUPPORTED_MEDIA_TYPE',
      'invalid',
      `the request body must be sent as Content-Type: application/json, got ${JSON.stringify(headers['content-type'] ?? '')}`,
      { status: 415 },
    );
}
