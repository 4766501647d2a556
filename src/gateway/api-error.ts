import { TesseraError, type ErrorKind } from '../core/errors.ts';

/** The HTTP status of each class of failure, unless an error names a more precise one (413, 415, 421). */
const STATUS_OF_KIND: Record<ErrorKind, number> = {
  invalid: 400,
  not_found: 404,
  already_exists: 409,
  permission_denied: 403,
  unauthenticated: 401,
  resource_exhausted: 429,
  failed_precondition: 400,
  unavailable: 503,
  deadline_exceeded: 504,
  internal: 500,
};

/** OpenAI's `type` for each class of failure, as its SDKs show it. */
const TYPE_OF_KIND: Record<ErrorKind, string> = {
  invalid: 'invalid_request_error',
  not_found: 'invalid_request_error',
  already_exists: 'invalid_request_error',
  permission_denied: 'permission_error',
  unauthenticated: 'authentication_error',
  resource_exhausted: 'rate_limit_error',
  failed_precondition: 'invalid_request_error',
  unavailable: 'service_unavailable_error',
  deadline_exceeded: 'timeout_error',
  internal: 'server_error',
};

export interface ApiErrorOptions {
  /** The request field at fault, as OpenAI's `param`. */
  readonly param?: string | null;
  /** Overrides the status the kind maps to. */
  readonly status?: number;
  /** Sent as Retry-After: when trying again may succeed. */
  readonly retryAfterSeconds?: number;
  readonly cause?: unknown;
}

/**
 * The gateway's one error type: a TesseraError whose kind maps to the HTTP status, answered in
 * OpenAI's shape `{ error: { message, type, param, code } }` with `code` in lower case (OpenAI's
 * SDKs show `code` as is: `model_not_found`, `invalid_api_key`).
 */
export class ApiError extends TesseraError {
  readonly status: number;
  readonly param: string | null;
  readonly retryAfterSeconds?: number;

  constructor(code: string, kind: ErrorKind, message: string, options: ApiErrorOptions = {}) {
    super(code, kind, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = options.status ?? STATUS_OF_KIND[kind];
    this.param = options.param ?? null;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  get type(): string {
    return TYPE_OF_KIND[this.kind];
  }

  body(): { error: { message: string; type: string; param: string | null; code: string } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code.toLowerCase() } };
  }

  /** Any other TesseraError keeps its code and kind; anything else is a bug on our side. */
  static of(error: unknown): ApiError {
    if (error instanceof ApiError) return error;
    if (error instanceof TesseraError) return new ApiError(error.code, error.kind, error.message, { cause: error });
    return new ApiError('INTERNAL', 'internal', (error as Error)?.message ?? String(error), { cause: error });
  }
}

/** A malformed or out-of-range request: 400. */
export function badRequest(message: string, param: string | null = null, code = 'INVALID_PARAMETER'): ApiError {
  return new ApiError(code, 'invalid', message, { param });
}
