import { TesseraError } from '../core/errors.ts';
import { byteSize, isSupportedType } from '../tensor/ggml-type.ts';
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

/**
 * Which part of the model a tensor belongs to: a layer's index, the embedding (token_embd, which a
 * model with tied embeddings also reads as its head), the head (output_norm, output), or every layer
 * (rope_freqs, the rotation factors).
 */
export type TensorPart = number | 'embedding' | 'head' | 'every-layer';

/** One tensor of the source GGUF file, where it lies in that file and its hash. */
export interface ManifestTensor {
  /** The GGUF name. */
  readonly name: string;
  readonly layer: TensorPart;
  /** The GGML type id. */
  readonly type: number;
  /** GGML order: dims[0] is the row length. */
  readonly dims: readonly number[];
  /** Absolute byte offset of the tensor's data in the source file. */
  readonly offset: number;
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
  /** The file the shards were cut from, and where it may be downloaded (https: or hf:OWNER/REPO/FILE[@REVISION]). */
  readonly source: { readonly file: string; readonly bytes: number; readonly sha256: string; readonly url?: string };
  readonly shards: readonly ShardEntry[];
  /**
   * Every tensor of a GGUF source, in the source's order, so that a node can fetch its shard's
   * tensors alone (HTTP ranges of source.url) and assemble the shard file itself. Optional: manifests
   * written before it, and those of a Hugging Face directory (no single file to take ranges of), have
   * none, and nodes that do not know the field ignore it.
   */
  readonly tensors?: readonly ManifestTensor[];
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

/** GGML_MAX_NAME: llama.cpp's (and our reader's) limit on a tensor name. */
const MAX_TENSOR_NAME_BYTES = 64;
/** The tensors a model beside its layers may have (embedding, head, norms, rope_freqs), generously. */
const MAX_TENSORS_OUTSIDE_LAYERS = 16;
/** Per layer: llama's nine, biases, and room for the norms and gates of other architectures. */
const MAX_TENSORS_PER_LAYER = 32;
/** Where a URL in a manifest may point: https anywhere, or a Hugging Face file. */
const SOURCE_URL = /^(https:\/\/[^\s]+|hf:[^\s/@]+\/[^\s/@]+\/[^\s@]+\.gguf(@[^\s/@]+)?)$/;
const MAX_URL_LENGTH = 2048;

/** The part a tensor name belongs to, or undefined for a name that is none of a layer's, the embedding, the head or rope_freqs. */
export function tensorPartOf(name: string): TensorPart | undefined {
  const layer = /^blk\.(0|[1-9]\d{0,5})\./.exec(name);
  if (layer) return Number(layer[1]);
  switch (name) {
    case 'token_embd.weight':
      return 'embedding';
    case 'output_norm.weight':
    case 'output.weight':
      return 'head';
    case 'rope_freqs.weight':
      return 'every-layer';
    default:
      return undefined;
  }
}

/** Names the first problem of a manifest's tensor list (see Manifest.tensors), or undefined. */
function tensorsProblem(tensors: unknown, layers: number, sourceBytes: number | undefined): string | undefined {
  if (!Array.isArray(tensors)) return 'tensors is not a list';
  if (sourceBytes === undefined) return 'tensors are listed without source.bytes to place them in';
  const most = MAX_TENSORS_OUTSIDE_LAYERS + MAX_TENSORS_PER_LAYER * layers;
  if (tensors.length > most) return `${tensors.length} tensors for ${layers} layers (at most ${most})`;
  const names = new Set<string>();
  const layersSeen = new Set<number>();
  const extents: [number, number, string][] = [];
  for (const [i, t] of tensors.entries()) {
    if (typeof t !== 'object' || t === null) return `tensor ${i} is not an object`;
    const { name, layer, type, dims, offset, bytes, sha256 } = t as Partial<Record<keyof ManifestTensor, unknown>>;
    if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(name) || name.length > MAX_TENSOR_NAME_BYTES)
      return `tensor ${i} name ${JSON.stringify(name)} is not a plain tensor name (letters, digits, '_', '.', '-'; at most ${MAX_TENSOR_NAME_BYTES})`;
    if (names.has(name)) return `tensor ${name} is listed twice`;
    names.add(name);
    const part = tensorPartOf(name);
    if (part === undefined) return `tensor ${name} is neither a layer's, the embedding, the head nor rope_freqs`;
    if (layer !== part)
      return `tensor ${name} is given to ${JSON.stringify(layer)}, its name says ${JSON.stringify(part)}`;
    if (typeof part === 'number') {
      if (part >= layers) return `tensor ${name} belongs to layer ${part}, the model has ${layers}`;
      layersSeen.add(part);
    }
    if (typeof type !== 'number' || !isSupportedType(type))
      return `tensor ${name} has unsupported type ${String(type)}`;
    if (
      !Array.isArray(dims) ||
      dims.length < 1 ||
      dims.length > 4 ||
      !dims.every((d) => Number.isSafeInteger(d) && d >= 1)
    )
      return `tensor ${name} dims ${JSON.stringify(dims)} are not 1 to 4 positive integers`;
    let size: number;
    try {
      byteSize(type, dims[0] as number);
      size = byteSize(
        type,
        (dims as number[]).reduce((a, b) => a * b, 1),
      );
    } catch (error) {
      return `tensor ${name} dims ${JSON.stringify(dims)}: ${(error as Error).message}`;
    }
    if (!Number.isSafeInteger(size) || bytes !== size)
      return `tensor ${name} bytes ${String(bytes)}, its type and dims take ${size}`;
    if (!isCount(offset) || offset + size > sourceBytes)
      return `tensor ${name} at offset ${String(offset)} (${size} bytes) is not inside the source's ${sourceBytes} bytes`;
    if (!isSha256(sha256)) return `tensor ${name} has no sha256`;
    extents.push([offset, offset + size, name]);
  }
  for (let l = 0; l < layers; l++) if (!layersSeen.has(l)) return `layer ${l} has no tensors`;
  if (!names.has('token_embd.weight')) return 'token_embd.weight is missing';
  extents.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < extents.length; i++)
    if (extents[i]![0] < extents[i - 1]![1]) return `tensors ${extents[i - 1]![2]} and ${extents[i]![2]} overlap`;
  return undefined;
}

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
    if (m.source.bytes !== undefined && !isCount(m.source.bytes))
      fail(`source.bytes ${String(m.source.bytes)} is not a size`);
    const { url } = m.source;
    if (url !== undefined && (typeof url !== 'string' || url.length > MAX_URL_LENGTH || !SOURCE_URL.test(url)))
      fail(
        `source.url ${JSON.stringify(url)?.slice(0, 200)} is not an https: or hf:OWNER/REPO/FILE.gguf[@REVISION] URL`,
      );
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
  if (m.tensors !== undefined) {
    const problem = tensorsProblem(m.tensors, m.config!.layers, m.source?.bytes);
    if (problem !== undefined) fail(problem);
  }
  return m as Manifest;
}
