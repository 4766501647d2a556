import type { ServiceError } from '@grpc/grpc-js';
import { TesseraError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { RegistryClient } from '../registry/registry-client.ts';
import { fromServiceError } from '../rpc/status.ts';

/**
 * Where a node fetches the files of its span from, when it joins and when it moves (issue 12): for
 * each shard's file, the nodes holding a span that contains that shard first, in a random order so
 * that joiners spread their load over them, and the registry last. A source is trusted for nothing: fetchModelFile checks every file against the
 * manifest, so a peer that lies costs a retry from the next source, never a wrong byte served.
 */

/** A listed node, as much of it as a fetch needs. */
export interface ListedNode {
  readonly nodeId: string;
  readonly endpoint: string;
  /** It holds shards [shardIndex, shardEnd), and serves each of their files. */
  readonly shardIndex: number;
  readonly shardEnd: number;
  readonly tls: boolean;
}

export interface ShardSources {
  /** GetShard servers in the order to try them: peers, then the registry. */
  readonly sources: readonly string[];
  /** The peers among them served over TLS. */
  readonly tls: ReadonlySet<string>;
}

/** The sources of shard `shardIndex`'s file among `nodes` (this node itself left out), the registry last. */
export function shardSources(
  nodes: readonly ListedNode[],
  shardIndex: number,
  self: string,
  registry: string,
  random: () => number = Math.random,
): ShardSources {
  const peers = nodes
    .filter((n) => n.shardIndex <= shardIndex && shardIndex < n.shardEnd && n.nodeId !== self)
    .map((n) => ({ ...n, order: random() }))
    .sort((a, b) => a.order - b.order);
  return {
    sources: [...peers.map((n) => n.endpoint), registry],
    tls: new Set(peers.filter((n) => n.tls).map((n) => n.endpoint)),
  };
}

/** The sources of each shard's file, from one listing. */
export type SpanSources = (shardIndex: number) => ShardSources;

export const spanSources =
  (nodes: readonly ListedNode[], self: string, registry: string): SpanSources =>
  (shardIndex) =>
    shardSources(nodes, shardIndex, self, registry);

/**
 * spanSources from a fresh listing: a move comes minutes after the join, and the peers it saw then
 * may be gone. A listing that cannot be read leaves the registry alone as a source (said in the log),
 * since it serves every file too.
 */
export async function discoverSpanSources(
  registry: string,
  modelId: string,
  self: string,
  log: Logger,
): Promise<SpanSources> {
  const client = new RegistryClient(registry);
  try {
    const { nodes } = await client.discover(modelId);
    return spanSources(nodes, self, registry);
  } catch (error) {
    const refusal = error instanceof TesseraError ? error : fromServiceError(error as ServiceError);
    log('shard_peers_unknown', { modelId, code: refusal.code, error: refusal.message });
    return () => ({ sources: [registry], tls: new Set() });
  } finally {
    client.close();
  }
}
