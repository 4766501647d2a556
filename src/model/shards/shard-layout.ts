import { writeGguf, type GgufMetadataEntry, type GgufTensorSpec, type GgufValueTypeId } from '../gguf/writer.ts';
import { GgufValueType, type GgufValue } from '../gguf/value.ts';
import type { TensorPart } from '../manifest.ts';

/**
 * What a shard file holds and how it is written, in one place: `tessera shard` cutting a model and a
 * node assembling its shard from fetched tensors must produce the same bytes, or the node's file
 * fails the manifest's hash.
 */

export interface LayerRange {
  readonly start: number;
  readonly end: number;
}

/** Which shards need a tensor of `part`: its layer's, the first for the embedding, the last for the head. */
export function shardsOfPart(part: TensorPart, ranges: readonly LayerRange[], tiedEmbeddings: boolean): number[] {
  const last = ranges.length - 1;
  if (typeof part === 'number') return [ranges.findIndex((r) => part >= r.start && part < r.end)];
  switch (part) {
    case 'embedding':
      // A tied head multiplies by the embedding matrix.
      return tiedEmbeddings && last > 0 ? [0, last] : [0];
    case 'head':
      return [last];
    case 'every-layer':
      return ranges.map((_, i) => i);
  }
}

/** The tensors of shard `index`, in the source's order (the order they are written in). */
export function tensorsOfShard<T extends { readonly layer: TensorPart }>(
  tensors: readonly T[],
  ranges: readonly LayerRange[],
  index: number,
  tiedEmbeddings: boolean,
): T[] {
  return tensors.filter((t) => shardsOfPart(t.layer, ranges, tiedEmbeddings).includes(index));
}

export interface ShardFileSpec {
  /** The model's metadata, as the tokenizer file holds it (without general.alignment). */
  readonly metadata: readonly GgufMetadataEntry[];
  readonly alignment: number;
  readonly modelId: string;
  readonly index: number;
  readonly count: number;
  readonly range: LayerRange;
  readonly tensors: readonly GgufTensorSpec[];
}

/** Writes one shard GGUF: the model's metadata, the tessera.shard.* keys and its tensors. Returns its size. */
export function writeShardFile(path: string, spec: ShardFileSpec): number {
  const metadata: GgufMetadataEntry[] = [
    ...spec.metadata,
    { key: 'tessera.model_id', type: GgufValueType.STRING, value: spec.modelId },
    { key: 'tessera.shard.index', type: GgufValueType.UINT32, value: spec.index },
    { key: 'tessera.shard.count', type: GgufValueType.UINT32, value: spec.count },
    { key: 'tessera.shard.layer_start', type: GgufValueType.UINT32, value: spec.range.start },
    { key: 'tessera.shard.layer_end', type: GgufValueType.UINT32, value: spec.range.end },
  ];
  return writeGguf(path, { metadata, tensors: spec.tensors }, spec.alignment);
}

/** A model's metadata as its tokenizer file and shards carry it: all of it but general.alignment, which the writer adds. */
export function modelMetadata(
  metadata: ReadonlyMap<string, GgufValue>,
  types: ReadonlyMap<string, number>,
): GgufMetadataEntry[] {
  const entries: GgufMetadataEntry[] = [];
  for (const [key, value] of metadata)
    if (key !== 'general.alignment') entries.push({ key, type: types.get(key) as GgufValueTypeId, value });
  return entries;
}

/** Writes the tokenizer GGUF: the model's metadata and no tensors. Returns its size. */
export function writeTokenizerFile(path: string, metadata: readonly GgufMetadataEntry[], alignment: number): number {
  return writeGguf(path, { metadata: [...metadata], tensors: [] }, alignment);
}
