import { Metadata, status, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { TesseraError, type ErrorKind } from '../core/errors.ts';
import { REASON_KEY, toStatusObject } from '../rpc/status.ts';
import { FAILURE_REPORT_KEY } from './failure-report.ts';

/**
 * Trailing metadata naming the hop whose failure ended a Forward stream. Any hop above it could have
 * written the name, so it travels with the report behind it, signed by the node that saw the failure
 * (FAILURE_REPORT_KEY, src/protocol/failure-report.ts): each hop relays a deeper report only once it
 * checked it, and a client bans nobody on a name no fitting report backs (see src/client/blame.ts).
 */
export const FAILED_NODE_KEY = 'tessera-failed-node';
/** The failed hop's position in the route (its first shard only in a route of one-shard spans). */
export const FAILED_SHARD_KEY = 'tessera-failed-shard';

/**
 * The reasons a Forward stream ends with (`tessera-reason`). Clients match these, never the message.
 */
export const ForwardReason = {
  /** The session was evicted (idle, or for room) or never opened here: reopen and replay. */
  SESSION_EXPIRED: 'SESSION_EXPIRED',
  /** Every session slot of the node is taken. Retrying soon (or elsewhere) may succeed. */
  NODE_FULL: 'NODE_FULL',
  /** This client key already holds its share of the node's sessions. */
  CLIENT_SESSION_LIMIT: 'CLIENT_SESSION_LIMIT',
  /** This peer address already holds its share of the node's sessions. */
  PEER_SESSION_LIMIT: 'PEER_SESSION_LIMIT',
  /** The session's KV cache does not fit the node's budget. */
  CACHE_FULL: 'CACHE_FULL',
  /** The node's audit window is full of steps it may still owe tickets for. */
  AUDIT_WINDOW_FULL: 'AUDIT_WINDOW_FULL',
  /** The node is shutting down. */
  NODE_DRAINING: 'NODE_DRAINING',
  /** The node's stake is in its unstaking cooldown: it finishes its sessions but takes no new one. */
  NODE_UNSTAKING: 'NODE_UNSTAKING',
  /** The stream sent no Open within the handshake deadline. */
  OPEN_TIMEOUT: 'OPEN_TIMEOUT',
  /** A message other than the one the stream's state allows (a step before Open, a second Open). */
  OUT_OF_SEQUENCE: 'OUT_OF_SEQUENCE',
  /** The Open itself is malformed or not for this node. */
  INVALID_OPEN: 'INVALID_OPEN',
  /** The route's next hop is not a registered node of the next shard of the model. */
  NEXT_HOP_NOT_REGISTERED: 'NEXT_HOP_NOT_REGISTERED',
  /** The registry that says which nodes are registered could not be asked. */
  NEXT_HOP_UNVERIFIED: 'NEXT_HOP_UNVERIFIED',
  /** The next hop did not answer Open in time. */
  NEXT_HOP_TIMEOUT: 'NEXT_HOP_TIMEOUT',
  /** The next hop broke the session (unreachable, reset, answered out of turn). */
  NEXT_HOP_FAILED: 'NEXT_HOP_FAILED',
  /**
   * The next hop's result does not fit the route (a commitment missing, unsigned or not linking to
   * this hop's output, or a token its last shard did not commit to): this hop refused to relay it.
   */
  NEXT_HOP_BAD_RESULT: 'NEXT_HOP_BAD_RESULT',
  /** A malformed step (shape, dtype, positions, which input this shard takes). */
  INVALID_STEP: 'INVALID_STEP',
  /** Hidden states holding NaN or ±Infinity. */
  NON_FINITE_ACTIVATION: 'NON_FINITE_ACTIVATION',
  /** An integer (step, seed, position) beyond what the protocol allows. */
  INTEGER_OUT_OF_RANGE: 'INTEGER_OUT_OF_RANGE',
  /** A token id beyond the model's vocabulary. */
  TOKEN_OUT_OF_VOCABULARY: 'TOKEN_OUT_OF_VOCABULARY',
  /** Positions past the model's context. */
  CONTEXT_EXCEEDED: 'CONTEXT_EXCEEDED',
  /** An audit reveal that does not fit the session (none committed, a second one, a wrong secret). */
  INVALID_AUDIT_REVEAL: 'INVALID_AUDIT_REVEAL',
  /** A usage receipt that does not fit the session. */
  INVALID_USAGE_RECEIPT: 'INVALID_USAGE_RECEIPT',
  /** The session was closed or cancelled by its client. */
  SESSION_CLOSED: 'SESSION_CLOSED',
} as const;
export type ForwardReason = (typeof ForwardReason)[keyof typeof ForwardReason];

/** Refusals that say "not now": the node is sound, a retry in a moment may be taken. */
export const BUSY_REASONS: ReadonlySet<string> = new Set([
  ForwardReason.NODE_FULL,
  ForwardReason.CLIENT_SESSION_LIMIT,
  ForwardReason.PEER_SESSION_LIMIT,
  ForwardReason.CACHE_FULL,
  ForwardReason.AUDIT_WINDOW_FULL,
]);

export interface FailedHop {
  readonly nodeId: string;
  /** The hop's position in the session's route (0: the hop that takes the prompt). */
  readonly shardIndex: number;
}

/**
 * An error that ends a Forward stream; `failedNode` defaults to the node raising it. `grpcStatus`
 * overrides the status its kind maps to, for the one status the shared kinds lack (OUT_OF_RANGE).
 */
export class NodeStatusError extends TesseraError {
  constructor(
    code: ForwardReason,
    kind: ErrorKind,
    message: string,
    readonly failedNode?: FailedHop,
    readonly grpcStatus?: status,
  ) {
    super(code, kind, message);
  }
}

/** Signs this node's report that `failed` (itself or its next hop) ended the stream for `reason`. */
export type ReportSigner = (failed: FailedHop, reason: string) => Buffer;

export function failedHopMetadata(nodeId: string, shardIndex: number, report?: Buffer): Metadata {
  const metadata = new Metadata();
  metadata.set(FAILED_NODE_KEY, nodeId);
  metadata.set(FAILED_SHARD_KEY, String(shardIndex));
  if (report !== undefined) metadata.set(FAILURE_REPORT_KEY, report);
  return metadata;
}

export const sessionExpired = (sessionId: string) =>
  new NodeStatusError(
    ForwardReason.SESSION_EXPIRED,
    'not_found',
    `session ${sessionId} is not open on this node (evicted or never opened); reopen and replay`,
  );

/**
 * The status a stream ends with. A downstream status whose report checked out passes through
 * unchanged, so the deepest failure is the one the client sees; any other names the failed node with
 * this node's signed report (`report`) when it has a key. Anything that is not a TesseraError is
 * this node's internal error, and its message stays in this node's log.
 */
export function toStatus(error: unknown, self: FailedHop, report?: ReportSigner): Partial<StatusObject> {
  if (error instanceof PassThroughStatus) return error.status;
  const failed = (error instanceof NodeStatusError && error.failedNode) || self;
  const reason = error instanceof TesseraError ? error.code : 'INTERNAL';
  const object = toStatusObject(error, failedHopMetadata(failed.nodeId, failed.shardIndex, report?.(failed, reason)));
  if (error instanceof NodeStatusError && error.grpcStatus !== undefined) return { ...object, code: error.grpcStatus };
  if (!(error instanceof TesseraError)) return { ...object, details: `internal error on node ${self.nodeId}` };
  return object;
}

/** A next hop's status that names its failed node with a report this node checked: relayed as it is. */
export class PassThroughStatus extends Error {
  constructor(readonly status: Partial<StatusObject> & { code: status; details: string; metadata: Metadata }) {
    super(status.details);
  }

  /**
   * The status to relay, when its named node is backed by a report that `accepts` (signed, for this
   * session, by a hop below this one about itself or its next hop, naming the same node); else
   * undefined, and this node reports its next hop itself.
   */
  static from(error: ServiceError, accepts: (report: Buffer, named: string) => boolean): PassThroughStatus | undefined {
    const named = error.metadata?.get(FAILED_NODE_KEY)[0];
    if (typeof named !== 'string' || named === '') return undefined;
    const report = error.metadata.get(FAILURE_REPORT_KEY)[0];
    if (!Buffer.isBuffer(report) || !accepts(report, named)) return undefined;
    const shard = error.metadata.get(FAILED_SHARD_KEY)[0];
    const reason = error.metadata.get(REASON_KEY)[0];
    // Only these keys travel on: the rest of the trailers belong to the hop below.
    const metadata = new Metadata();
    metadata.set(FAILED_NODE_KEY, named);
    metadata.set(FAILURE_REPORT_KEY, report);
    if (typeof shard === 'string') metadata.set(FAILED_SHARD_KEY, shard);
    if (typeof reason === 'string') metadata.set(REASON_KEY, reason);
    return new PassThroughStatus({ code: error.code, details: error.details, metadata });
  }
}
