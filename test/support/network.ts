// A real network in this process: a registry and compute nodes on 127.0.0.1 (random ports), on a
// sharded stories260K. For tests that need real servers but no process boundary.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import type { Manifest } from '../../src/model/manifest.ts';
import { startNode, type NodeHandle, type NodeOptions } from '../../src/node/node-server.ts';
import { shardModel } from '../../src/model/shards/shard.ts';
import { parseClusterConfig } from '../../src/registry/cluster-config.ts';
import { startRegistry, type RegistryHandle } from '../../src/registry/registry.ts';
import { testModel } from './models.ts';

export interface InProcessNetwork {
  readonly dir: string;
  readonly manifest: Manifest;
  readonly registry: RegistryHandle;
  /** One per shard in shard order, then the extra replicas. */
  readonly nodes: NodeHandle[];
  close(): Promise<void>;
}

export interface NetworkOptions {
  readonly shards: number;
  /** Shards that get a second node. */
  readonly replicas?: readonly number[];
  /** A second model id the registry lists but no node serves. */
  readonly unservedModel?: string;
  /** For every node, over the defaults here. */
  readonly nodeOptions?: Partial<NodeOptions>;
}

/** stories260K cut into `shards`, a registry serving it, a node per shard and one per entry of `replicas`. */
export async function startInProcessNetwork(options: NetworkOptions): Promise<InProcessNetwork> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-network-'));
  const shardsDir = join(dir, 'shards');
  const manifest = shardModel(testModel('stories260K.gguf'), options.shards, shardsDir);
  const models = [{ id: manifest.modelId, manifest: 'shards', pricePer1kTokens: 5 }];
  if (options.unservedModel !== undefined) {
    shardModel(testModel('stories260K.gguf'), 1, join(dir, 'unserved'), { modelId: options.unservedModel });
    models.push({ id: options.unservedModel, manifest: 'unserved', pricePer1kTokens: 5 });
  }
  const nodes: NodeHandle[] = [];
  let registry: RegistryHandle | undefined;
  const close = async () => {
    await Promise.all(nodes.map((n) => n.close()));
    await registry?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const clusterConfig = parseClusterConfig({ clusterId: 'test', models }, dir);
    registry = await startRegistry({ port: 0, host: '127.0.0.1', dbPath: join(dir, 'registry.db'), clusterConfig });
    for (const shardIndex of [...manifest.shards.map((s) => s.index), ...(options.replicas ?? [])]) {
      nodes.push(
        await startNode({
          shardsDir,
          shardIndex,
          port: 0,
          registry: registry.endpoint,
          key: generateKeyPair(),
          threads: 1,
          log: () => {},
          ...options.nodeOptions,
        }),
      );
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { dir, manifest, registry, nodes, close };
}
