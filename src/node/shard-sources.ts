import type { ServiceError } from '@grpc/grpc-js';
import { TesseraError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { RegistryClient } from '../registry/registry-client.ts';
import { fromServiceError } from '../rpc/status.ts';

/**
 * Where a node fetches a shard's files from, when it joins and when it moves (issue 12): nodes
 * serving that shard first, in a random order so that joiners spread their load over them, and the
 * registry last. A source is trusted for nothing: fetchModelFile checks every file against the
 * manifest, so a peer that lies costs a retry from the next source, never a wrong byte served.
 */

/** A listed node, as much of it as a fetch needs. */
export interface ListedNode {
  readonly nodeId: string;
  readonly endpoint: string;
  readonly shardIndex: number;
  readonly tls: boolean;
}

export interface ShardSources {
  /** GetShard servers in the order to try them: peers, then the registry. */
  readonly sources: readonly string[];
  /** The peers among them served over TLS. */
  readonly tls: ReadonlySet<string>;
}

/** The sources of shard `shardIndex` among `nodes` (this node itself left out), the registry last. */
export function shardSources(
  nodes: readonly ListedNode[],
  shardIndex: number,
  self: string,
  registry: string,
  random: () => number = Math.random,
): ShardSources {
  const peers = nodes
    .filter((n) => n.shardIndex === shardIndex && n.nodeId !== self)
    .map((n) => ({ ...n, order: random() }))
    .sort((a, b) => a.order - b.order);
  return {
    sources: [...peers.map((n) => n.endpoint), registry],
    tls: new Set(peers.filter((n) => n.tls).map((n) => n.endpoint)),
  };
}

/**
 * shardSources from a fresh listing: a move comes minutes after the join, and the peers it saw then
 * may be gone. A listing that cannot be read leaves the registry alone as a source (said in the log),
 * since it serves every file too.
 */
export async function discoverShardSources(
  registry: string,
  modelId: string,
  shardIndex: number,
  self: string,
  log: Logger,
): Promise<ShardSources> {
  const client = new RegistryClient(registry);
  try {
    const { nodes } = await client.discover(modelId);
    return shardSources(nodes, shardIndex, self, registry);
  } catch (error) {
    const refusal = error instanceof TesseraError ? error : fromServiceError(error as ServiceError);
    log('shard_peers_unknown', { modelId, shard: shardIndex, code: refusal.code, error: refusal.message });
    return { sources: [registry], tls: new Set() };
  } finally {
    client.close();
  }
}
