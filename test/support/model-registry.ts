// A real registry serving stories260K cut into a few shards (or one a layer, by `tessera shard` as an
// operator runs it), as an operator joining with `tessera node --registry … --model …` meets one: the
// join, churn and rebalancing tests each need one, with their own cut, database and heartbeat settings.
import { join, relative } from 'node:path';
import type { Manifest } from '../../src/model/manifest.ts';
import { openModel } from '../../src/model/open-model.ts';
import { readManifest } from '../../src/model/shards/shard-files.ts';
import { shardModel } from '../../src/model/shards/shard.ts';
import { parseClusterConfig } from '../../src/registry/cluster-config.ts';
import { startRegistry, type RegistryHandle } from '../../src/registry/registry.ts';
import { RegistryClient } from '../../src/registry/registry-client.ts';
import { testModel } from './models.ts';
import { runTessera } from './tessera-cli.ts';

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
  /** Shards cut by work, or one a layer: `tessera shard MODEL --shards <layer count>` in its own process. */
  readonly shards: number | 'per-layer';
  /** Heartbeats short enough that a killed node drops out of the listing within a test. */
  readonly quickEviction?: boolean;
  /** The model's own URL, written into the manifest (`tessera shard --source-url`). */
  readonly sourceUrl?: string;
  /** Stops the registry and its client; the test's after-hook runs these. */
  readonly cleanups: (() => unknown)[];
}

export async function startModelRegistry(dir: string, options: ModelRegistryOptions): Promise<ModelRegistry> {
  const shardsDir = join(dir, `${options.name}-shards`);
  const model = testModel('stories260K.gguf');
  const manifest =
    options.shards === 'per-layer'
      ? await cutPerLayer(model, shardsDir, options.sourceUrl)
      : shardModel(
          model,
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

async function cutPerLayer(model: string, out: string, sourceUrl: string | undefined): Promise<Manifest> {
  const opened = openModel(model);
  const layers = opened.config.layers;
  opened.weights.close();
  const cut = await runTessera([
    ...['shard', model, '--shards', String(layers), '--out', out],
    ...(sourceUrl === undefined ? [] : ['--source-url', sourceUrl]),
  ]);
  if (cut.code !== 0) throw new Error(`tessera shard exited with ${cut.code}: ${cut.stderr}`);
  return readManifest(out);
}

/**
 * `--memory-mb` for a node started with joinArgs (`--cache-mb 16`) and room for `bytes` of weights
 * beside its KV cache, rounded up to the flag's four decimals.
 */
export function memoryMbFor(bytes: number): string {
  return (Math.ceil(((16 * 2 ** 20 + bytes) / 2 ** 20) * 1e4) / 1e4).toFixed(4);
}

/** `--memory-mb` with room for the manifest's largest shard, never for two of these cuts' shards. */
export function oneShardMemoryMb(manifest: Manifest): string {
  return memoryMbFor(Math.max(...manifest.shards.map((e) => e.bytes)));
}
