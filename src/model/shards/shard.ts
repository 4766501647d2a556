import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { writeGguf, type GgufMetadataEntry, type GgufTensorSpec } from '../gguf/writer.ts';
import { GgufValueType } from '../gguf/value.ts';
import { MANIFEST_FILE, type Manifest, type ShardEntry } from '../manifest.ts';
import { sha256File } from '../../crypto/hash.ts';
import { openShardSource, type ShardSource } from './shard-source.ts';

export interface ShardModelOptions {
  /** Defaults to the model's file (or directory) name without its extension. */
  readonly modelId?: string;
}

const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Cuts `layers` into `shards` contiguous ranges whose sizes differ by at most one (larger ones first). */
export function splitLayers(layers: number, shards: number): { start: number; end: number }[] {
  if (!Number.isInteger(shards) || shards < 1 || shards > layers) {
    throw new Error(`cannot cut ${layers} layers into ${shards} shards: choose from 1 to ${layers}`);
  }
  const ranges: { start: number; end: number }[] = [];
  let start = 0;
  for (let i = 0; i < shards; i++) {
    const size = Math.floor(layers / shards) + (i < layers % shards ? 1 : 0);
    ranges.push({ start, end: start + size });
    start += size;
  }
  return ranges;
}

/** Which shards need a tensor: its layer's, the first for the embedding, the last for the head. */
function shardsOf(name: string, ranges: readonly { start: number; end: number }[], tied: boolean): number[] {
  const last = ranges.length - 1;
  const layer = /^blk\.(\d+)\./.exec(name);
  if (layer) return [ranges.findIndex((r) => Number(layer[1]) >= r.start && Number(layer[1]) < r.end)];
  switch (name) {
    case 'token_embd.weight':
      return tied && last > 0 ? [0, last] : [0];
    case 'output_norm.weight':
    case 'output.weight':
      return [last];
    // Rotation factors apply in every layer.
    case 'rope_freqs.weight':
      return ranges.map((_, i) => i);
    default:
      throw new Error(
        `tensor ${name} is neither a layer's, the embedding, the head nor rope_freqs: cannot place it in a shard`,
      );
  }
}

function shardMetadata(
  source: ShardSource,
  modelId: string,
  index: number,
  count: number,
  range: { start: number; end: number },
): GgufMetadataEntry[] {
  return [
    ...source.metadata,
    { key: 'tessera.model_id', type: GgufValueType.STRING, value: modelId },
    { key: 'tessera.shard.index', type: GgufValueType.UINT32, value: index },
    { key: 'tessera.shard.count', type: GgufValueType.UINT32, value: count },
    { key: 'tessera.shard.layer_start', type: GgufValueType.UINT32, value: range.start },
    { key: 'tessera.shard.layer_end', type: GgufValueType.UINT32, value: range.end },
  ];
}

/**
 * Cuts a model (GGUF file or Hugging Face directory) into `shards` GGUF files of contiguous layers,
 * each holding only its own tensors and the model's metadata, plus a tokenizer GGUF (metadata only)
 * for clients, and writes manifest.json (version 2) with every file's size and SHA-256.
 */
export function shardModel(
  modelPath: string,
  shards: number,
  outDir: string,
  options: ShardModelOptions = {},
): Manifest {
  const modelId =
    options.modelId ?? basename(modelPath).slice(0, basename(modelPath).length - extname(modelPath).length);
  if (!MODEL_ID.test(modelId))
    throw new Error(`model id "${modelId}" must be letters, digits, '.', '_' or '-' (choose one with --model-id)`);
  const source = openShardSource(modelPath);
  try {
    const { config } = source;
    const ranges = splitLayers(config.layers, shards);
    const tensorsOf: string[][] = ranges.map(() => []);
    for (const name of source.tensorNames)
      for (const i of shardsOf(name, ranges, config.tiedEmbeddings)) tensorsOf[i]!.push(name);

    mkdirSync(outDir, { recursive: true });
    const entries: ShardEntry[] = ranges.map((range, index) => {
      const file = `${modelId}.shard-${index}-of-${shards}.gguf`;
      const path = join(outDir, file);
      const tensors: GgufTensorSpec[] = tensorsOf[index]!.map((name) => {
        const tensor = source.tensor(name);
        return { name, dims: tensor.dims, type: tensor.type, data: () => tensor.read() };
      });
      const bytes = writeGguf(
        path,
        { metadata: shardMetadata(source, modelId, index, shards, range), tensors },
        source.alignment,
      );
      return {
        index,
        layerStart: range.start,
        layerEnd: range.end,
        embedding: index === 0,
        head: index === shards - 1,
        file,
        bytes,
        sha256: sha256File(path),
      };
    });

    const tokenizerFile = `${modelId}.tokenizer.gguf`;
    const tokenizerPath = join(outDir, tokenizerFile);
    writeGguf(tokenizerPath, { metadata: source.metadata, tensors: [] }, source.alignment);
    const manifest: Manifest = {
      version: 2,
      modelId,
      architecture: config.architecture,
      config,
      tokenizerFile,
      tokenizerSha256: sha256File(tokenizerPath),
      source: source.origin,
      shards: entries,
    };
    writeFileSync(join(outDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    return manifest;
  } finally {
    source.close();
  }
}
