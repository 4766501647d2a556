import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ggufWeightSource } from '../gguf/gguf-model.ts';
import { openGguf } from '../gguf/reader.ts';
import { checkPlainFileName, MANIFEST_FILE, parseManifest, type Manifest, type ShardEntry } from '../manifest.ts';
import type { WeightSource } from '../model-files.ts';
import { sha256File } from '../../crypto/hash.ts';

export class ShardIntegrityError extends Error {
  readonly code = 'SHARD_MISMATCH';
}

export function readManifest(shardsDir: string): Manifest {
  const path = join(shardsDir, MANIFEST_FILE);
  let json: string;
  try {
    json = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(
      `${path}: cannot read the manifest (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); write one with: tessera shard MODEL --out ${shardsDir}`,
    );
  }
  return parseManifest(json, path);
}

export function shardEntry(manifest: Manifest, shardIndex: number): ShardEntry {
  const entry = manifest.shards[shardIndex];
  if (!Number.isInteger(shardIndex) || entry === undefined) {
    throw new Error(`model ${manifest.modelId} has shards 0 to ${manifest.shards.length - 1}, not ${shardIndex}`);
  }
  return entry;
}

/** Checks a shard file's size and SHA-256 against the manifest; returns its path. */
export function verifyShardFile(shardsDir: string, entry: ShardEntry): string {
  // parseManifest checked the name already; a Manifest built in code reaches here unchecked.
  const path = join(shardsDir, checkPlainFileName(entry.file, `shard ${entry.index} file`, shardsDir));
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat?.isFile()) throw new ShardIntegrityError(`shard ${entry.index} file ${path} is missing`);
  const actual = sha256File(path);
  if (actual !== entry.sha256) {
    throw new ShardIntegrityError(
      `shard ${entry.index} file ${path} has SHA-256 ${actual}, the manifest expects ${entry.sha256}: the file is corrupt or from another model; copy it again or re-run tessera shard`,
    );
  }
  return path;
}

export interface OpenedShard {
  readonly manifest: Manifest;
  readonly entry: ShardEntry;
  readonly weights: WeightSource;
}

/** Reads the manifest, verifies the shard's hash and opens its tensors (read on demand). */
export function openShard(shardsDir: string, shardIndex: number): OpenedShard {
  const manifest = readManifest(shardsDir);
  const entry = shardEntry(manifest, shardIndex);
  const path = verifyShardFile(shardsDir, entry);
  return { manifest, entry, weights: ggufWeightSource(openGguf(path)) };
}
