/**
 * The one error base class. Every error that crosses a boundary (an RPC status, an HTTP answer, a CLI
 * exit) is a TesseraError: `code` is a stable machine-readable reason (UPPER_SNAKE, matched by
 * callers; never match `message`), `kind` says which class of failure it is, so each boundary maps it
 * once (src/rpc/status.ts to a gRPC status, the gateway to an HTTP status, the CLI to an exit code),
 * and `message` tells a person what to do.
 */
export type ErrorKind =
  /** The caller sent something malformed or out of range. */
  | 'invalid'
  /** The thing named does not exist (or no longer does). */
  | 'not_found'
  /** It exists already (a replayed nonce, a duplicate record). */
  | 'already_exists'
  /** The caller is known but may not do this (no stake, wrong key, not a member). */
  | 'permission_denied'
  /** The caller's identity could not be established (no or bad signature). */
  | 'unauthenticated'
  /** A limit is reached: rate, quota, capacity. Retrying later may succeed. */
  | 'resource_exhausted'
  /** The system is not in a state where this can be done (cooldown active, window closed). */
  | 'failed_precondition'
  /** Something this depends on did not answer or is down. Retrying may succeed. */
  | 'unavailable'
  /** It did not finish in time. */
  | 'deadline_exceeded'
  /** A bug or broken invariant on our side. */
  | 'internal';

export class TesseraError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;

  constructor(code: string, kind: ErrorKind, message: string, options?: { readonly cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.kind = kind;
    this.name = new.target.name;
  }
}

/** The error's code, for any thrown value: a TesseraError's own, else INTERNAL. */
export function errorCode(error: unknown): string {
  return error instanceof TesseraError ? error.code : 'INTERNAL';
}
