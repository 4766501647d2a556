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

/**
 * Cuts layers of the given costs (multiply-adds a token: their weights' elements) into `shards`
 * contiguous ranges, the last also running the head (`headCost`): a pipeline runs at the pace of
 * its slowest shard, so the cut makes the costliest shard as cheap as possible, then the shards as
 * even as that allows (least sum of squared costs), then puts larger shards first. Equal costs and
 * no head give sizes that differ by at most one; a large vocabulary's head moves layers off the last
 * shard.
 */
export function splitLayers(costs: readonly number[], shards: number, headCost = 0): { start: number; end: number }[] {
  const layers = costs.length;
  if (!Number.isInteger(shards) || shards < 1 || shards > layers) {
    throw new Error(`cannot cut ${layers} layers into ${shards} shards: choose from 1 to ${layers}`);
  }
  const prefix = [0];
  for (const c of costs) prefix.push(prefix.at(-1)! + c);
  // Costs are whole numbers of elements, so every sum (and every comparison with a ceiling) is exact.
  const cost = (start: number, end: number) => prefix[end]! - prefix[start]! + (end === layers ? headCost : 0);
  // Every shard's cost is one of these sums; the least ceiling a cut can keep under is one of them.
  const sums = new Set<number>();
  for (let start = 0; start < layers; start++)
    for (let end = start + 1; end <= layers; end++) sums.add(cost(start, end));
  const sorted = [...sums].sort((a, b) => a - b);
  const total = cost(0, layers);
  // spread(ceiling)[k][start]: the least Σ (cost / total)² of a cut of layers [start, layers) into
  // k shards of at most `ceiling` each (Infinity when there is none)
  const spread = (ceiling: number): number[][] => {
    const table = [Array.from({ length: layers + 1 }, (_, start) => (start === layers ? 0 : Infinity))];
    for (let k = 1; k <= shards; k++) {
      const below = table[k - 1]!;
      table.push(
        Array.from({ length: layers + 1 }, (_, start) => {
          let best = Infinity;
          for (let end = start + 1; end <= layers; end++) {
            const c = cost(start, end);
            if (c > ceiling) break;
            best = Math.min(best, (c / total) ** 2 + below[end]!);
          }
          return best;
        }),
      );
    }
    return table;
  };
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (spread(sorted[mid]!)[shards]![0]! < Infinity) hi = mid;
    else lo = mid + 1;
  }
  const ceiling = sorted[lo]!;
  const table = spread(ceiling);
  // larger shards first among cuts as even as the least spread allows
  const ranges: { start: number; end: number }[] = [];
  let start = 0;
  for (let k = shards; k >= 1; k--) {
    let end = layers - (k - 1);
    for (; ; end--) {
      const c = cost(start, end);
      if (c <= ceiling && (c / total) ** 2 + table[k - 1]![end]! === table[k]![start]!) break;
    }
    ranges.push({ start, end });
    start = end;
  }
  return ranges;
}

const elements = (dims: readonly number[]) => dims.reduce((product, d) => product * d, 1);

/** Each layer's multiply-adds a token: the elements of its tensors (norms add a row's worth). */
function layerCosts(
  parts: readonly { name: string; layer: ReturnType<typeof tensorPartOf> }[],
  layers: number,
  source: { tensor(name: string): { readonly dims: readonly number[] } },
): number[] {
  const costs = new Array<number>(layers).fill(0);
  for (const { name, layer } of parts)
    if (typeof layer === 'number') costs[layer]! += elements(source.tensor(name).dims);
  return costs;
}

/** The head's multiply-adds a token: the output matrix, which is the embedding's when they are tied. */
function headCost(source: { tensor(name: string): { readonly dims: readonly number[] } }, tied: boolean): number {
  return elements(source.tensor(tied ? 'token_embd.weight' : 'output.weight').dims);
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
    const parts = source.tensorNames.map((name) => {
      const layer = tensorPartOf(name);
      if (layer === undefined)
        throw new Error(
          `tensor ${name} is neither a layer's, the embedding, the head nor rope_freqs: cannot place it in a shard`,
        );
      return { name, layer };
    });
    const ranges = splitLayers(
      layerCosts(parts, config.layers, source),
      shards,
      headCost(source, config.tiedEmbeddings),
    );
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
