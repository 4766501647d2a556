import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import type { GgufTensorSpec } from '../gguf/writer.ts';
import { MANIFEST_FILE, tensorPartOf, type Manifest, type ManifestTensor, type ShardEntry } from '../manifest.ts';
import { sha256File, sha256Hex } from '../../crypto/hash.ts';
import { tensorsOfShard, writeShardFile, writeTokenizerFile } from './shard-layout.ts';
import { openShardSource } from './shard-source.ts';

export interface ShardModelOptions {
  /** Defaults to the model's file (or directory) name without its extension. */
  readonly modelId?: string;
  /** Where nodes may download the source GGUF (https: or hf:OWNER/REPO/FILE.gguf[@REVISION]), for the manifest. */
  readonly sourceUrl?: string;
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

/**
 * Cuts a model (GGUF file or Hugging Face directory) into `shards` GGUF files of contiguous layers,
 * each holding only its own tensors and the model's metadata, plus a tokenizer GGUF (metadata only)
 * for clients, and writes manifest.json (version 2) with every file's size and SHA-256 and, for a
 * GGUF source, every tensor's place in it and SHA-256 (so a node can assemble its shard from ranges).
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
    const parts = source.tensorNames.map((name) => {
      const layer = tensorPartOf(name);
      if (layer === undefined)
        throw new Error(
          `tensor ${name} is neither a layer's, the embedding, the head nor rope_freqs: cannot place it in a shard`,
        );
      return { name, layer };
    });
    // Hashed as the shards are written, so the source is read once.
    const hashes = new Map<string, string>();
    mkdirSync(outDir, { recursive: true });
    const entries: ShardEntry[] = ranges.map((range, index) => {
      const file = `${modelId}.shard-${index}-of-${shards}.gguf`;
      const path = join(outDir, file);
      const tensors: GgufTensorSpec[] = tensorsOfShard(parts, ranges, index, config.tiedEmbeddings).map(({ name }) => {
        const tensor = source.tensor(name);
        const data = () => {
          const bytes = tensor.read();
          if (!hashes.has(name)) hashes.set(name, sha256Hex(bytes));
          return bytes;
        };
        return { name, dims: tensor.dims, type: tensor.type, data };
      });
      const bytes = writeShardFile(path, {
        metadata: source.metadata,
        alignment: source.alignment,
        modelId,
        index,
        count: shards,
        range,
        tensors,
      });
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
    const described = parts.map(({ name, layer }): ManifestTensor | undefined => {
      const { type, dims, offset } = source.tensor(name);
      if (offset === undefined) return undefined;
      return { name, layer, type, dims, offset, bytes: source.tensor(name).byteSize, sha256: hashes.get(name)! };
    });

    const tokenizerFile = `${modelId}.tokenizer.gguf`;
    const tokenizerPath = join(outDir, tokenizerFile);
    writeTokenizerFile(tokenizerPath, source.metadata, source.alignment);
    const manifest: Manifest = {
      version: 2,
      modelId,
      architecture: config.architecture,
      config,
      tokenizerFile,
      tokenizerSha256: sha256File(tokenizerPath),
      source: options.sourceUrl === undefined ? source.origin : { ...source.origin, url: options.sourceUrl },
      shards: entries,
      ...(described.every((t) => t !== undefined) ? { tensors: described as ManifestTensor[] } : {}),
    };
    writeFileSync(join(outDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    return manifest;
  } finally {
    source.close();
  }
}
