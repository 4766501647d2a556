import type { ModelConfig } from './model-files.ts';

/** One shard of a sharded model: layers [layerStart, layerEnd), plus the embedding and/or the head. */
export interface ShardEntry {
  readonly index: number;
  readonly layerStart: number;
  readonly layerEnd: number;
  readonly embedding: boolean;
  readonly head: boolean;
  /** File name relative to the manifest's directory. */
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** manifest.json, version 2: everything a node, a registry or a client needs to know of a sharded model. */
export interface Manifest {
  readonly version: 2;
  readonly modelId: string;
  readonly architecture: string;
  readonly config: ModelConfig;
  /** A GGUF file holding the tokenizer metadata (and chat template), no tensors. */
  readonly tokenizerFile: string;
  readonly tokenizerSha256: string;
  /** The file the shards were cut from. */
  readonly source: { readonly file: string; readonly bytes: number; readonly sha256: string };
  readonly shards: readonly ShardEntry[];
}

export const MANIFEST_FILE = 'manifest.json';

/** Checks the shape of a parsed manifest.json and names the first problem. */
export function parseManifest(json: string, source: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new Error(`${source}: not valid JSON: ${(error as Error).message}`);
  }
  const m = value as Partial<Manifest>;
  const fail = (problem: string): never => {
    throw new Error(`${source}: invalid manifest: ${problem}`);
  };
  if (typeof m !== 'object' || m === null) fail('not an object');
  if (m.version !== 2) fail(`version ${String(m.version)} is not supported (expected 2)`);
  if (typeof m.modelId !== 'string' || m.modelId === '') fail('modelId is missing');
  if (typeof m.config !== 'object' || m.config === null) fail('config is missing');
  if (typeof m.tokenizerFile !== 'string') fail('tokenizerFile is missing');
  if (!Array.isArray(m.shards) || m.shards.length === 0) fail('shards are missing');
  let expectedStart = 0;
  for (const [i, shard] of m.shards!.entries()) {
    if (shard.index !== i) fail(`shard ${i} has index ${shard.index}`);
    if (shard.layerStart !== expectedStart || !(shard.layerEnd >= shard.layerStart))
      fail(`shard ${i} covers layers [${shard.layerStart}, ${shard.layerEnd}), expected to start at ${expectedStart}`);
    if (shard.embedding !== (i === 0)) fail(`shard ${i} ${shard.embedding ? 'holds' : 'lacks'} the embedding`);
    if (shard.head !== (i === m.shards!.length - 1)) fail(`shard ${i} ${shard.head ? 'holds' : 'lacks'} the head`);
    if (!/^[0-9a-f]{64}$/.test(shard.sha256 ?? '')) fail(`shard ${i} has no sha256`);
    expectedStart = shard.layerEnd;
  }
  if (expectedStart !== m.config!.layers)
    fail(`shards cover ${expectedStart} layers, the model has ${m.config!.layers}`);
  return m as Manifest;
}
