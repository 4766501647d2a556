// A real registry serving stories260K cut into a few shards, as an operator joining with
// `tessera node --registry … --model …` meets one: the join, churn and rebalancing tests each need
// one, with their own cut, database and heartbeat settings.
import { join, relative } from 'node:path';
import type { Manifest } from '../../src/model/manifest.ts';
import { shardModel } from '../../src/model/shards/shard.ts';
import { parseClusterConfig } from '../../src/registry/cluster-config.ts';
import { startRegistry, type RegistryHandle } from '../../src/registry/registry.ts';
import { RegistryClient } from '../../src/registry/registry-client.ts';
import { testModel } from './models.ts';

export interface ModelRegistry {
  readonly registry: RegistryHandle;
  /** A client of it, for reading what it lists. */
  readonly client: RegistryClient;
  readonly manifest: Manifest;
  readonly modelId: string;
  /** Where the cut lies (the registry serves its files with GetShard). */
  readonly shardsDir: string;
}

export interface ModelRegistryOptions {
  /** Names the cut's folder, the database and the cluster under `dir`. */
  readonly name: string;
  readonly shards: number;
  /** Heartbeats short enough that a killed node drops out of the listing within a test. */
  readonly quickEviction?: boolean;
  /** The model's own URL, written into the manifest (`tessera shard --source-url`). */
  readonly sourceUrl?: string;
  /** Stops the registry and its client; the test's after-hook runs these. */
  readonly cleanups: (() => unknown)[];
}

export async function startModelRegistry(dir: string, options: ModelRegistryOptions): Promise<ModelRegistry> {
  const shardsDir = join(dir, `${options.name}-shards`);
  const manifest = shardModel(
    testModel('stories260K.gguf'),
    options.shards,
    shardsDir,
    options.sourceUrl === undefined ? {} : { sourceUrl: options.sourceUrl },
  );
  const clusterConfig = parseClusterConfig(
    {
      clusterId: options.name,
      models: [{ id: manifest.modelId, manifest: relative(dir, shardsDir) }],
      ...(options.quickEviction === true ? { heartbeat: { intervalMs: 1000, evictAfterMissed: 3 } } : {}),
    },
    dir,
  );
  const registry = await startRegistry({ port: 0, dbPath: join(dir, `${options.name}.db`), clusterConfig });
  options.cleanups.push(() => registry.close());
  const client = new RegistryClient(registry.endpoint);
  options.cleanups.push(() => client.close());
  return { registry, client, manifest, modelId: manifest.modelId, shardsDir };
}
