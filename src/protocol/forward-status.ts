import { Metadata, status, type ServiceError, type StatusObject } from '@grpc/grpc-js';

/** Trailing metadata naming the hop whose failure ended a Forward stream (the client bans that node). */
export const FAILED_NODE_KEY = 'tessera-failed-node';
export const FAILED_SHARD_KEY = 'tessera-failed-shard';

/** A gRPC status a Forward stream ends with; `failedNode` defaults to the node raising it. */
export class NodeStatusError extends Error {
  constructor(
    readonly code: status,
    message: string,
    readonly failedNode?: { readonly nodeId: string; readonly shardIndex: number },
  ) {
    super(message);
  }
}

export function failedHopMetadata(nodeId: string, shardIndex: number): Metadata {
  const metadata = new Metadata();
  metadata.set(FAILED_NODE_KEY, nodeId);
  metadata.set(FAILED_SHARD_KEY, String(shardIndex));
  return metadata;
}

export const sessionExpired = (sessionId: string) =>
  new NodeStatusError(
    status.NOT_FOUND,
    `SESSION_EXPIRED: session ${sessionId} is not open on this node (evicted or never opened); reopen and replay`,
  );

/**
 * The status a stream ends with. A downstream status that already names its failed node passes
 * through unchanged, so the deepest failure is the one the client sees; anything that is not a
 * NodeStatusError is this node's internal error.
 */
export function toStatus(
  error: unknown,
  self: { readonly nodeId: string; readonly shardIndex: number },
): Partial<StatusObject> {
  if (error instanceof PassThroughStatus) return error.status;
  const known = error instanceof NodeStatusError;
  const failed = (known && error.failedNode) || self;
  return {
    code: known ? error.code : status.INTERNAL,
    details: known
      ? error.message
      : `internal error on node ${self.nodeId}: ${(error as Error)?.message ?? String(error)}`,
    metadata: failedHopMetadata(failed.nodeId, failed.shardIndex),
  };
}

/** A next hop's status that names its failed node: relayed as it is. */
export class PassThroughStatus extends Error {
  constructor(readonly status: Partial<StatusObject> & { code: status; details: string; metadata: Metadata }) {
    super(status.details);
  }

  static from(error: ServiceError): PassThroughStatus | undefined {
    const named = error.metadata?.get(FAILED_NODE_KEY)[0];
    if (typeof named !== 'string' || named === '') return undefined;
    const shard = error.metadata.get(FAILED_SHARD_KEY)[0];
    // Only the two keys travel on: the rest of the trailers belong to the hop below.
    const metadata = new Metadata();
    metadata.set(FAILED_NODE_KEY, named);
    if (typeof shard === 'string') metadata.set(FAILED_SHARD_KEY, shard);
    return new PassThroughStatus({ code: error.code, details: error.details, metadata });
  }
}
