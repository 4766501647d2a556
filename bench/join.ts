// Issue 12's figure: what a node that joins with only --registry and --model downloads, as a
// fraction of the whole model file, for each shard of a network cut in several.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '../src/crypto/keys.ts';
import { shardModel } from '../src/model/shards/shard.ts';
import { joinNetwork } from '../src/node/shard-fetch-join.ts';
import { parseClusterConfig } from '../src/registry/cluster-config.ts';
import { startRegistry } from '../src/registry/registry.ts';
import { testModel } from '../test/support/models.ts';
import type { BenchRow } from './row.ts';

async function joinRows(label: string, modelPath: string, shards: number): Promise<BenchRow[]> {
  process.stderr.write(`measuring the bytes each of ${shards} joining nodes fetches of ${label} ...\n`);
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-join-'));
  try {
    const manifest = shardModel(modelPath, shards, join(dir, 'shards'));
    const clusterConfig = parseClusterConfig(
      { clusterId: 'bench', models: [{ id: manifest.modelId, manifest: 'shards' }] },
      dir,
    );
    const registry = await startRegistry({ port: 0, dbPath: join(dir, 'registry.db'), clusterConfig });
    const whole = statSync(modelPath).size;
    const rows: BenchRow[] = [];
    try {
      // One node per shard, joining in turn: the registry sends each to the shard nobody serves yet.
      for (let i = 0; i < shards; i++) {
        const joined = await joinNetwork({
          registry: registry.endpoint,
          modelId: manifest.modelId,
          key: generateKeyPair(),
          dir: join(dir, `node-${i}`),
          kvBudgetBytes: 16 << 20,
          log: () => {},
        });
        const entry = manifest.shards[joined.shardIndex]!;
        const what = entry.embedding ? ' + embedding' : entry.head ? ' + head' : '';
        rows.push({
          figure: `bytes a node joining a ${shards}-shard network fetches: shard ${entry.index} (layers ${entry.layerStart}-${entry.layerEnd - 1}${what}) + tokenizer, ${label}`,
          ours: joined.fetchedBytes / 2 ** 20,
          reference: whole / 2 ** 20,
          referenceName: 'whole model file',
          unit: 'MiB',
        });
      }
    } finally {
      await registry.close();
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function joinBenchRows(options: { quick: boolean; qwenShapeModel?: () => string }): Promise<BenchRow[]> {
  const rows = await joinRows('stories260K f32', testModel('stories260K.gguf'), 3);
  if (!options.quick && options.qwenShapeModel !== undefined)
    rows.push(...(await joinRows('qwen2.5-0.5B shape q8_0', options.qwenShapeModel(), 4)));
  return rows;
}
