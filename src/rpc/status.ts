import { Metadata, status, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { TesseraError, type ErrorKind } from '../core/errors.ts';

/** Trailing metadata key carrying a failed call's machine-readable reason (a TesseraError's code). */
export const REASON_KEY = 'tessera-reason';

const STATUS_OF_KIND: Readonly<Record<ErrorKind, status>> = {
  invalid: status.INVALID_ARGUMENT,
  not_found: status.NOT_FOUND,
  already_exists: status.ALREADY_EXISTS,
  permission_denied: status.PERMISSION_DENIED,
  unauthenticated: status.UNAUTHENTICATED,
  resource_exhausted: status.RESOURCE_EXHAUSTED,
  failed_precondition: status.FAILED_PRECONDITION,
  unavailable: status.UNAVAILABLE,
  deadline_exceeded: status.DEADLINE_EXCEEDED,
  internal: status.INTERNAL,
};

const KIND_OF_STATUS = new Map<status, ErrorKind>(
  Object.entries(STATUS_OF_KIND).map(([kind, code]) => [code, kind as ErrorKind]),
);

/** The kind of failure a gRPC status stands for (UNKNOWN and the like: unavailable). */
export function kindOfStatus(code: status): ErrorKind {
  return KIND_OF_STATUS.get(code) ?? 'unavailable';
}

/**
 * The status a handler's error ends its call with: a TesseraError keeps its kind and code (the code
 * travels in `tessera-reason`); anything else is INTERNAL with no detail, so no stack or internal
 * message reaches a stranger.
 */
export function toStatusObject(error: unknown, metadata = new Metadata()): Partial<StatusObject> {
  if (error instanceof TesseraError) {
    metadata.set(REASON_KEY, error.code);
    return { code: STATUS_OF_KIND[error.kind], details: error.message, metadata };
  }
  metadata.set(REASON_KEY, 'INTERNAL');
  return { code: status.INTERNAL, details: 'internal error', metadata };
}

/** The machine-readable reason of a failed call, as the server sent it (undefined when it sent none). */
export function reasonOf(error: Partial<ServiceError> | undefined): string | undefined {
  const value = error?.metadata?.get(REASON_KEY)[0];
  return typeof value === 'string' ? value : undefined;
}

/** A failed call as a TesseraError on the caller's side: the server's reason and kind, its message. */
export function fromServiceError(error: ServiceError): TesseraError {
  const kind = kindOfStatus(error.code);
  return new TesseraError(reasonOf(error) ?? status[error.code] ?? 'UNKNOWN', kind, error.details || error.message, {
    cause: error,
  });
}
