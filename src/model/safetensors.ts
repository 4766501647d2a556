import {
  closeSync,
  existsSync,
  fstatSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { TesseraError, type ErrorKind } from '../core/errors.ts';
import { GgmlType } from '../tensor/ggml-type.ts';
import { plainFileNameProblem } from './plain-file-name.ts';

/** The safetensors dtypes the engine computes with, and their GGML types. */
export const SAFETENSORS_DTYPES = { F32: GgmlType.F32, F16: GgmlType.F16, BF16: GgmlType.BF16 } as const;
export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPES;

const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = { F32: 4, F16: 2, BF16: 2 };

/** The reference implementation refuses headers above 100 MB; so do we, before allocating one. */
export const MAX_HEADER_BYTES = 100_000_000;

/**
 * What a safetensors header may hold, checked on its bytes before JSON.parse builds objects from
 * them: parsed JSON costs many times its text (an empty array, 3 bytes of text, is a 32-byte object),
 * so the structure is bounded as well as the size.
 */
export const SAFETENSORS_LIMITS = {
  /** Tensors in one file; a 235B-parameter MoE has about 37,000 in all its shards together. */
  tensors: 1 << 17,
  /** Entries of `__metadata__` (checkpoints carry a handful) and fields of a tensor entry. */
  objectEntries: 4096,
  /** Dimensions of a shape (the engine uses up to 4). */
  dims: 8,
  /** Root object, tensor entry, shape or offsets array. */
  depth: 3,
} as const;

export class SafetensorsError extends TesseraError {
  constructor(
    readonly path: string,
    problem: string,
    code = 'SAFETENSORS_INVALID',
    kind: ErrorKind = 'invalid',
  ) {
    super(code, kind, `${path}: ${problem}`);
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;

/**
 * Checks the JSON header's nesting and its number of entries per level without building anything;
 * returns the first problem. Bytes inside strings are skipped; malformed JSON is left to JSON.parse.
 */
function structureProblem(bytes: Uint8Array): string | undefined {
  const counts: number[] = [];
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
      continue;
    }
    if (byte === QUOTE) inString = true;
    else if (byte === 0x7b || byte === 0x5b) {
      if (counts.length === SAFETENSORS_LIMITS.depth)
        return `JSON nested deeper than ${SAFETENSORS_LIMITS.depth} levels at byte ${8 + i}`;
      counts.push(1);
    } else if (byte === 0x7d || byte === 0x5d) counts.pop();
    else if (byte === COMMA && counts.length > 0) {
      const depth = counts.length;
      const count = ++counts[depth - 1]!;
      const limit =
        depth === 1
          ? SAFETENSORS_LIMITS.tensors + 1
          : depth === 2
            ? SAFETENSORS_LIMITS.objectEntries
            : SAFETENSORS_LIMITS.dims;
      if (count > limit) {
        const what = depth === 1 ? 'entries' : depth === 2 ? 'fields in one entry' : 'items in one array';
        return `more than ${limit} ${what} (at byte ${8 + i}; the limit is ${limit})`;
      }
    }
  }
  return undefined;
}

export interface SafetensorsTensorInfo {
  readonly name: string;
  /** The file holding the tensor (differs between tensors of a sharded checkpoint). */
  readonly path: string;
  readonly dtype: SafetensorsDtype;
  /** Row-major, as stored: shape[last] varies fastest. */
  readonly shape: readonly number[];
  readonly type: GgmlType;
  /** GGML order (the shape reversed): dims[0] is the row length. */
  readonly dims: readonly number[];
  /** Absolute byte offset in `path`. */
  readonly offset: number;
  readonly byteSize: number;
}

/** One safetensors file, or all the shards of a checkpoint behind one lookup. */
export interface SafetensorsFile {
  readonly path: string;
  /** `__metadata__` (of the first shard, for a sharded checkpoint). */
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  readTensor(name: string, into?: Uint8Array): Uint8Array;
  close(): void;
}

function readExactly(fd: number, into: Uint8Array, position: number, path: string, what: string): void {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) throw new SafetensorsError(path, `${what}: file ended while reading (truncated?)`);
    done += n;
  }
}

function parseEntry(
  name: string,
  raw: unknown,
  path: string,
  dataStart: number,
  fileSize: number,
): SafetensorsTensorInfo {
  const entry = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
  if (typeof entry !== 'object' || entry === null)
    throw new SafetensorsError(path, `tensor ${name}: header entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== 'string') throw new SafetensorsError(path, `tensor ${name}: dtype is missing`);
  if (!Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPES, dtype)) {
    throw new SafetensorsError(
      path,
      `tensor ${name} has dtype ${dtype}, which this engine does not support (supported: ${Object.keys(SAFETENSORS_DTYPES).join(', ')})`,
    );
  }
  const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!Array.isArray(shape) || !shape.every(isCount))
    throw new SafetensorsError(path, `tensor ${name}: shape ${JSON.stringify(shape)} is not a list of sizes`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[1] < offsets[0]) {
    throw new SafetensorsError(
      path,
      `tensor ${name}: data_offsets ${JSON.stringify(offsets)} is not a [begin, end] pair`,
    );
  }
  if (shape.length > SAFETENSORS_LIMITS.dims)
    throw new SafetensorsError(
      path,
      `tensor ${name}: shape has ${shape.length} dimensions (at most ${SAFETENSORS_LIMITS.dims})`,
    );
  const known = dtype as SafetensorsDtype;
  let byteSize = DTYPE_BYTES[known];
  for (const dim of shape as number[]) {
    if (dim !== 0 && byteSize > Number.MAX_SAFE_INTEGER / dim)
      throw new SafetensorsError(path, `tensor ${name}: shape [${shape.join(', ')}] has more than 2^53 bytes`);
    byteSize *= dim;
  }
  const [begin, end] = offsets as [number, number];
  if (end - begin !== byteSize) {
    throw new SafetensorsError(
      path,
      `tensor ${name}: shape [${shape.join(', ')}] of ${dtype} needs ${byteSize} bytes, data_offsets span ${end - begin}`,
    );
  }
  if (end > fileSize - dataStart) {
    throw new SafetensorsError(
      path,
      `tensor ${name} (bytes ${begin}..${end} of the data) runs past the end of the file (${fileSize - dataStart} data bytes): the file is truncated or corrupt`,
    );
  }
  const dims = shape.length === 0 ? [1] : [...shape].reverse();
  return {
    name,
    path,
    dtype: known,
    shape,
    type: SAFETENSORS_DTYPES[known],
    dims,
    offset: dataStart + begin,
    byteSize,
  };
}

function readHeader(
  fd: number,
  path: string,
): { metadata: Record<string, string>; tensors: Map<string, SafetensorsTensorInfo> } {
  const fileSize = fstatSync(fd).size;
  if (fileSize < 8)
    throw new SafetensorsError(path, `truncated: ${fileSize} bytes, too short for the 8-byte header length`);
  const lengthBytes = new Uint8Array(8);
  readExactly(fd, lengthBytes, 0, path, 'header length');
  const length = new DataView(lengthBytes.buffer).getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES))
    throw new SafetensorsError(
      path,
      `header length ${length} is larger than the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`,
    );
  const headerLength = Number(length);
  if (8 + headerLength > fileSize)
    throw new SafetensorsError(path, `truncated: the header needs ${8 + headerLength} bytes, the file has ${fileSize}`);
  const headerBytes = new Uint8Array(headerLength);
  readExactly(fd, headerBytes, 8, path, 'header');
  const problem = structureProblem(headerBytes);
  if (problem !== undefined) throw new SafetensorsError(path, `header: ${problem}`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (error) {
    throw new SafetensorsError(path, `header is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    throw new SafetensorsError(path, 'header is not a JSON object');

  const dataStart = 8 + headerLength;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafetensorsTensorInfo>();
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null)
        throw new SafetensorsError(path, '__metadata__ is not an object');
      for (const [key, text] of Object.entries(value)) if (typeof text === 'string') metadata[key] = text;
      continue;
    }
    tensors.set(name, parseEntry(name, value, path, dataStart, fileSize));
  }
  return { metadata, tensors };
}

function openShard(path: string): {
  fd: number;
  metadata: Record<string, string>;
  tensors: Map<string, SafetensorsTensorInfo>;
} {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new SafetensorsError(
      path,
      `cannot open: ${code ?? (error as Error).message}`,
      'SAFETENSORS_UNREADABLE',
      code === 'ENOENT' ? 'not_found' : 'failed_precondition',
    );
  }
  try {
    return { fd, ...readHeader(fd, path) };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

function shardFiles(indexPath: string): string[] {
  let index: unknown;
  try {
    const bytes = statSync(indexPath).size;
    if (bytes > MAX_HEADER_BYTES)
      throw new Error(`it is ${bytes} bytes long, over the ${MAX_HEADER_BYTES}-byte limit on a header`);
    index = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (error) {
    throw new SafetensorsError(
      indexPath,
      `cannot read the index: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null)
    throw new SafetensorsError(indexPath, 'index has no weight_map object');
  const files = new Set<string>();
  for (const [name, file] of Object.entries(weightMap)) {
    const problem = plainFileNameProblem(file);
    if (problem !== undefined)
      throw new SafetensorsError(indexPath, `weight_map entry for ${name}: ${JSON.stringify(file)} ${problem}`);
    files.add(file);
  }
  return [...files].map((file) => join(dirname(indexPath), file));
}

/**
 * Opens a `.safetensors` file or a sharded checkpoint's `model.safetensors.index.json`: headers now,
 * tensor data on demand, so a process serving some layers reads only their bytes.
 */
export function openSafetensors(path: string): SafetensorsFile {
  const files = path.endsWith('.json') ? shardFiles(path) : [path];
  const shards: ReturnType<typeof openShard>[] = [];
  const fds = new Map<string, number>();
  const closeAll = () => {
    for (const shard of shards) closeSync(shard.fd);
    shards.length = 0;
  };
  const tensors = new Map<string, SafetensorsTensorInfo>();
  try {
    for (const file of files) {
      if (files.length > 1 && !existsSync(file))
        throw new SafetensorsError(path, `shard ${file} named in the index is missing`);
      const shard = openShard(file);
      shards.push(shard);
      fds.set(file, shard.fd);
      for (const [name, info] of shard.tensors) {
        const earlier = tensors.get(name);
        if (earlier) throw new SafetensorsError(path, `tensor ${name} is in both ${earlier.path} and ${file}`);
        tensors.set(name, info);
      }
    }
  } catch (error) {
    closeAll();
    throw error;
  }
  let open = true;
  return {
    path,
    metadata: shards[0]?.metadata ?? {},
    tensors,
    readTensor(name, into) {
      if (!open) throw new SafetensorsError(path, 'file is closed');
      const info = tensors.get(name);
      if (!info) throw new SafetensorsError(path, `no tensor named ${name}`);
      const target = into ?? new Uint8Array(info.byteSize);
      if (target.length !== info.byteSize)
        throw new SafetensorsError(info.path, `tensor ${name} has ${info.byteSize} bytes, buffer has ${target.length}`);
      readExactly(fds.get(info.path)!, target, info.offset, info.path, `tensor ${name}`);
      return target;
    },
    close() {
      if (open) closeAll();
      open = false;
    },
  };
}

export interface SafetensorsTensorSpec {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  /** Row-major. */
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

/** Writes one safetensors file (header padded to 8 bytes, as the reference writer does). */
export function writeSafetensors(
  path: string,
  tensors: readonly SafetensorsTensorSpec[],
  metadata?: Readonly<Record<string, string>>,
): void {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const { name, dtype, shape, data } of tensors) {
    const size = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
    if (data.length !== size)
      throw new SafetensorsError(
        path,
        `tensor ${name}: shape [${shape.join(', ')}] of ${dtype} needs ${size} bytes, data has ${data.length}`,
      );
    if (name in header) throw new SafetensorsError(path, `tensor ${name} appears twice`);
    header[name] = { dtype, shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerBytes.length));

  const partial = `${path}.partial-${process.pid}`;
  const fd = openSync(partial, 'w');
  try {
    for (const chunk of [length, headerBytes, ...tensors.map((t) => t.data)]) {
      let done = 0;
      while (done < chunk.length) done += writeSync(fd, chunk, done, chunk.length - done);
    }
  } catch (error) {
    closeSync(fd);
    rmSync(partial, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(partial, path);
}
