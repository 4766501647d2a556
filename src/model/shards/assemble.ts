import { createHash } from 'node:crypto';
import { renameSync, rmSync } from 'node:fs';
import { TesseraError } from '../../core/errors.ts';
import { sha256File } from '../../crypto/hash.ts';
import { openGguf } from '../gguf/reader.ts';
import type { GgufMetadataEntry } from '../gguf/writer.ts';
import type { Manifest, ManifestTensor, ShardEntry } from '../manifest.ts';
import type { GgmlType } from '../../tensor/ggml-type.ts';
import { modelMetadata, tensorsOfShard, writeShardFile } from './shard-layout.ts';

/** Bytes that do not match the manifest's SHA-256: a tensor's (named) or the assembled shard file's. */
export class ShardHashMismatchError extends TesseraError {
  constructor(
    message: string,
    /** The tensor whose bytes were wrong; undefined when the tensors matched and the file did not. */
    readonly tensor?: string,
  ) {
    super('SHARD_HASH_MISMATCH', 'failed_precondition', message);
  }
}

/** The tensors shard `entry` holds, in the order its file holds them; [] when the manifest lists none. */
export function shardTensors(manifest: Manifest, entry: ShardEntry): ManifestTensor[] {
  const ranges = manifest.shards.map((s) => ({ start: s.layerStart, end: s.layerEnd }));
  return tensorsOfShard(manifest.tensors ?? [], ranges, entry.index, manifest.config.tiedEmbeddings);
}

/** The model's metadata as `tessera shard` copied it into the tokenizer file, and the alignment it wrote with. */
function tokenizerMetadata(path: string): { metadata: GgufMetadataEntry[]; alignment: number } {
  const file = openGguf(path);
  try {
    return { metadata: modelMetadata(file.metadata, file.metadataTypes), alignment: file.alignment };
  } finally {
    file.close();
  }
}

export interface AssembleOptions {
  readonly manifest: Manifest;
  readonly entry: ShardEntry;
  /** The model's tokenizer GGUF, already checked against manifest.tokenizerSha256. */
  readonly tokenizerPath: string;
  /** Where the shard file goes; nothing appears under this name unless it matches entry.sha256. */
  readonly path: string;
  /** One tensor's bytes, whole or in chunks, read when the writer reaches it. */
  readonly read: (tensor: ManifestTensor) => Uint8Array | Iterable<Uint8Array>;
}

/** Chunks of `tensor` passed through, hashed; after the last, a mismatch throws (and the writer drops its file). */
function* checked(tensor: ManifestTensor, data: Uint8Array | Iterable<Uint8Array>): Iterable<Uint8Array> {
  const digest = createHash('sha256');
  let bytes = 0;
  for (const chunk of data instanceof Uint8Array ? [data] : data) {
    digest.update(chunk);
    bytes += chunk.length;
    yield chunk;
  }
  const actual = digest.digest('hex');
  if (bytes !== tensor.bytes || actual !== tensor.sha256)
    throw new ShardHashMismatchError(
      `tensor ${tensor.name} has ${bytes} bytes and SHA-256 ${actual}, the manifest says ${tensor.bytes} bytes and ${tensor.sha256}`,
      tensor.name,
    );
}

/**
 * Writes shard `entry`'s GGUF file from its tensors, byte for byte as `tessera shard` wrote it (the
 * same writer, the tokenizer file's metadata and the tessera.shard.* keys), checking every tensor
 * as it arrives and the whole file against the manifest. Returns the file's size.
 */
export function assembleShard(options: AssembleOptions): number {
  const { manifest, entry, path } = options;
  const tensors = shardTensors(manifest, entry);
  if (tensors.length === 0)
    throw new TesseraError(
      'MANIFEST_NO_TENSORS',
      'failed_precondition',
      `the manifest of ${manifest.modelId} describes no tensors: shard ${entry.index} cannot be assembled, only fetched whole`,
    );
  const { metadata, alignment } = tokenizerMetadata(options.tokenizerPath);
  const assembling = `${path}.assembling`;
  try {
    const bytes = writeShardFile(assembling, {
      metadata,
      alignment,
      modelId: manifest.modelId,
      index: entry.index,
      count: manifest.shards.length,
      range: { start: entry.layerStart, end: entry.layerEnd },
      tensors: tensors.map((tensor) => ({
        name: tensor.name,
        dims: tensor.dims,
        type: tensor.type as GgmlType,
        data: () => checked(tensor, options.read(tensor)),
      })),
    });
    const actual = sha256File(assembling);
    if (actual !== entry.sha256)
      throw new ShardHashMismatchError(
        `shard ${entry.index} assembled from tensors that match the manifest has SHA-256 ${actual}, the manifest says ${entry.sha256}: the tokenizer file's metadata or the manifest's layout differs from what tessera shard wrote`,
      );
    renameSync(assembling, path);
    return bytes;
  } finally {
    rmSync(assembling, { force: true });
  }
}
