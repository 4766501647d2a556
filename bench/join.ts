// Issue 12's figures: what a node that joins with only --registry and --model downloads, as a
// fraction of the whole model file, for each shard of a network cut in several, and for each span a
// node with room for 1.3/N of the weights (N nodes) is given from a cut of one shard per layer; and what it
// fetches with HTTP ranges of the model's GGUF (--model-url), against its share of the layers.
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '../src/crypto/keys.ts';
import { openGgufModel } from '../src/model/gguf/gguf-model.ts';
import { shardModel } from '../src/model/shards/shard.ts';
import type { LayerRange } from '../src/model/engine.ts';
import type { Manifest } from '../src/model/manifest.ts';
import { spanBytes, spanLayers, type ShardSpan } from '../src/model/shards/span.ts';
import { fetchShardByRanges } from '../src/node/range-fetch-shard.ts';
import { joinNetwork } from '../src/node/shard-fetch-join.ts';
import { parseClusterConfig } from '../src/registry/cluster-config.ts';
import { startRegistry } from '../src/registry/registry.ts';
import { testModel } from '../test/support/models.ts';
import { startRangeFileServer } from '../test/support/range-file-server.ts';
import type { BenchRow } from './row.ts';

/**
 * `nodes` nodes joining a registry serving `modelPath` cut in `shards`, one after another, each with
 * `freeBytes` of room beside a 16 MiB KV budget: one row per node, the bytes it fetched against the
 * whole file, described by `figure` from the span the registry gave it.
 */
async function joinedBytesRows(
  modelPath: string,
  shards: number,
  nodes: number,
  freeBytes: (manifest: Manifest) => number,
  figure: (manifest: Manifest, span: ShardSpan) => string,
): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-join-'));
  try {
    const manifest = shardModel(modelPath, shards, join(dir, 'shards'));
    const clusterConfig = parseClusterConfig(
      { clusterId: 'bench', models: [{ id: manifest.modelId, manifest: 'shards' }] },
      dir,
    );
    const registry = await startRegistry({ port: 0, dbPath: join(dir, 'registry.db'), clusterConfig });
    const whole = statSync(modelPath).size;
    const kvBudgetBytes = 16 << 20;
    const rows: BenchRow[] = [];
    try {
      for (let i = 0; i < nodes; i++) {
        const joined = await joinNetwork({
          registry: registry.endpoint,
          modelId: manifest.modelId,
          key: generateKeyPair(),
          dir: join(dir, `node-${i}`),
          kvBudgetBytes,
          freeBytes: kvBudgetBytes + freeBytes(manifest),
          log: () => {},
        });
        rows.push({
          figure: figure(manifest, joined.span),
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

const heldParts = (layers: LayerRange) => `${layers.embedding ? ' + embedding' : ''}${layers.head ? ' + head' : ''}`;

/** One node per shard, with room for one shard, joining in turn: the registry sends each to the shard nobody serves yet. */
function joinRows(label: string, modelPath: string, shards: number): Promise<BenchRow[]> {
  process.stderr.write(`measuring the bytes each of ${shards} joining nodes fetches of ${label} ...\n`);
  return joinedBytesRows(
    modelPath,
    shards,
    shards,
    (manifest) => Math.max(...manifest.shards.map((e) => e.bytes)),
    (manifest, span) => {
      const layers = spanLayers(manifest, span);
      return `bytes a node joining a ${shards}-shard network fetches: shard ${span.start} (layers ${layers.start}-${layers.end - 1}${heldParts(layers)}) + tokenizer, ${label}`;
    },
  );
}

/**
 * A cut of one shard per layer, joined in turn by `nodes` nodes each with room for 1.3/`nodes` of the
 * weights beside its KV budget (more than an even share: a span cannot split the embedding or the
 * head from their layers): each is given a span of layers, and fetches that span's files alone.
 */
function spanJoinRows(label: string, modelPath: string, nodes: number): Promise<BenchRow[]> {
  process.stderr.write(`measuring the bytes each of ${nodes} nodes fetches of ${label} cut per layer ...\n`);
  const model = openGgufModel(modelPath);
  const layers = model.config.layers;
  model.weights.close();
  return joinedBytesRows(
    modelPath,
    layers,
    nodes,
    (manifest) => Math.ceil((1.3 * spanBytes(manifest, { start: 0, end: manifest.shards.length })) / nodes),
    (manifest, span) => {
      const held = spanLayers(manifest, span);
      return `bytes a node with room for ${Math.round(130 / nodes)} % of the weights fetches joining a per-layer cut: layers ${held.start}-${held.end - 1}${heldParts(held)} + tokenizer, ${label}`;
    },
  );
}

/** Per shard of a cut in `shards`: bytes its node fetches by HTTP range from a loopback origin, as a share of the file. */
async function rangeJoinRows(label: string, modelPath: string, shards: number): Promise<BenchRow[]> {
  process.stderr.write(`measuring the bytes each of ${shards} nodes fetches of ${label} by HTTP range ...\n`);
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-range-join-'));
  const origin = await startRangeFileServer(modelPath, 'model.gguf');
  try {
    const manifest = shardModel(modelPath, shards, join(dir, 'shards'));
    const whole = statSync(modelPath).size;
    const rows: BenchRow[] = [];
    for (const entry of manifest.shards) {
      const into = join(dir, `node-${entry.index}`);
      mkdirSync(into);
      const fetched = await fetchShardByRanges({
        url: new URL(origin.url),
        manifest,
        entry,
        dir: into,
        tokenizerPath: join(dir, 'shards', manifest.tokenizerFile),
        log: () => {},
      });
      const layers = entry.layerEnd - entry.layerStart;
      const what = entry.embedding ? ' + embedding' : entry.head ? ' + head' : '';
      rows.push({
        figure: `bytes a node of a ${shards}-shard cut fetches by HTTP range (--model-url): shard ${entry.index} (layers ${entry.layerStart}-${entry.layerEnd - 1}${what}, ${fetched.requests} requests), % of the file, ${label}`,
        ours: (100 * fetched.fetchedBytes) / whole,
        reference: (100 * layers) / manifest.config.layers,
        referenceName: 'its share of the layers',
        unit: '%',
      });
    }
    return rows;
  } finally {
    await origin.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function joinBenchRows(options: { quick: boolean; qwenShapeModel?: () => string }): Promise<BenchRow[]> {
  const rows = await joinRows('stories260K f32', testModel('stories260K.gguf'), 3);
  rows.push(...(await spanJoinRows('stories260K f32', testModel('stories260K.gguf'), 3)));
  rows.push(...(await rangeJoinRows('stories260K f32', testModel('stories260K.gguf'), 4)));
  if (!options.quick && options.qwenShapeModel !== undefined) {
    rows.push(...(await joinRows('qwen2.5-0.5B shape q8_0', options.qwenShapeModel(), 4)));
    rows.push(...(await spanJoinRows('qwen2.5-0.5B shape q8_0', options.qwenShapeModel(), 4)));
    rows.push(...(await rangeJoinRows('qwen2.5-0.5B shape q8_0', options.qwenShapeModel(), 6)));
  }
  return rows;
}
