import { TesseraError } from '../core/errors.ts';
import type { ModelConfig } from './model-files.ts';
import { plainFileNameProblem } from './plain-file-name.ts';

/** One shard of a sharded model: layers [layerStart, layerEnd), plus the embedding and/or the head. */
export interface ShardEntry {
  readonly index: number;
  readonly layerStart: number;
  readonly layerEnd: number;
  readonly embedding: boolean;
  readonly head: boolean;
  /** A plain file name (see plainFileNameProblem) in the manifest's directory. */
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
  /** A GGUF file holding the tokenizer metadata (and chat template), no tensors; a plain name like `file`. */
  readonly tokenizerFile: string;
  readonly tokenizerSha256: string;
  /** The file the shards were cut from. */
  readonly source: { readonly file: string; readonly bytes: number; readonly sha256: string };
  readonly shards: readonly ShardEntry[];
}

export const MANIFEST_FILE = 'manifest.json';

/** A manifest of a thousand shards takes about 300 KB; a registry may hand us one from anyone. */
export const MAX_MANIFEST_BYTES = 1 << 20;
/** A manifest that cannot be used: malformed, or naming a file outside its own directory. */
export class ManifestError extends TesseraError {
  constructor(message: string) {
    super('MANIFEST_INVALID', 'invalid', message);
  }
}

/** Throws a ManifestError naming `what` unless `name` is a plain file name (see plainFileNameProblem). */
export function checkPlainFileName(name: unknown, what: string, source: string): string {
  const problem = plainFileNameProblem(name);
  if (problem !== undefined)
    throw new ManifestError(`${source}: invalid manifest: ${what} ${JSON.stringify(name)} ${problem}`);
  return name as string;
}

const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
const isSha256 = (value: unknown): boolean => typeof value === 'string' && /^[0-9a-f]{64}$/.test(value);

/** Checks the shape of a parsed manifest.json and names the first problem. */
export function parseManifest(json: string, source: string): Manifest {
  if (json.length > MAX_MANIFEST_BYTES)
    throw new ManifestError(
      `${source}: the manifest is ${json.length} characters long (at most ${MAX_MANIFEST_BYTES})`,
    );
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new ManifestError(`${source}: not valid JSON: ${(error as Error).message}`);
  }
  const fail = (problem: string): never => {
    throw new ManifestError(`${source}: invalid manifest: ${problem}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('not an object');
  const m = value as Partial<Manifest>;
  if (m.version !== 2) fail(`version ${String(m.version)} is not supported (expected 2)`);
  if (typeof m.modelId !== 'string' || m.modelId === '') fail('modelId is missing');
  if (typeof m.config !== 'object' || m.config === null) fail('config is missing');
  if (!isCount(m.config!.layers)) fail(`config.layers ${String(m.config!.layers)} is not a layer count`);
  if (m.tokenizerFile === undefined) fail('tokenizerFile is missing');
  checkPlainFileName(m.tokenizerFile, 'tokenizerFile', source);
  if (m.tokenizerSha256 !== undefined && m.tokenizerSha256 !== '' && !isSha256(m.tokenizerSha256))
    fail('tokenizerSha256 is not a SHA-256');
  if (m.source !== undefined) {
    if (typeof m.source !== 'object' || m.source === null) fail('source is not an object');
    checkPlainFileName(m.source.file, 'source.file', source);
  }
  if (!Array.isArray(m.shards) || m.shards.length === 0) fail('shards are missing');
  if (m.shards!.length > m.config!.layers) fail(`${m.shards!.length} shards for ${m.config!.layers} layers`);
  let expectedStart = 0;
  for (const [i, shard] of m.shards!.entries()) {
    if (typeof shard !== 'object' || shard === null) fail(`shard ${i} is not an object`);
    if (shard.index !== i) fail(`shard ${i} has index ${String(shard.index)}`);
    if (shard.layerStart !== expectedStart || !isCount(shard.layerEnd) || !(shard.layerEnd >= shard.layerStart))
      fail(
        `shard ${i} covers layers [${String(shard.layerStart)}, ${String(shard.layerEnd)}), expected to start at ${expectedStart}`,
      );
    if (shard.embedding !== (i === 0)) fail(`shard ${i} ${shard.embedding ? 'holds' : 'lacks'} the embedding`);
    if (shard.head !== (i === m.shards!.length - 1)) fail(`shard ${i} ${shard.head ? 'holds' : 'lacks'} the head`);
    checkPlainFileName(shard.file, `shard ${i} file`, source);
    if (shard.bytes !== undefined && !isCount(shard.bytes))
      fail(`shard ${i} bytes ${String(shard.bytes)} is not a size`);
    if (!isSha256(shard.sha256)) fail(`shard ${i} has no sha256`);
    expectedStart = shard.layerEnd;
  }
  if (expectedStart !== m.config!.layers)
    fail(`shards cover ${expectedStart} layers, the model has ${m.config!.layers}`);
  return m as Manifest;
}
