import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { byteSize, ggmlTypeName, isSupportedType, type GgmlType } from '../../tensor/ggml-type.ts';
import { TesseraError, type ErrorKind } from '../../core/errors.ts';
import { GgufValueType, type GgufArray, type GgufPackedItems, type GgufValue } from './value.ts';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as little-endian u32
export const GGUF_DEFAULT_ALIGNMENT = 32;

export interface GgufTensorInfo {
  readonly name: string;
  /** GGML order: dims[0] is the fastest-varying (row length). */
  readonly dims: readonly number[];
  readonly type: GgmlType;
  /** Absolute byte offset in the file. */
  readonly offset: number;
  readonly byteSize: number;
}

export interface GgufFile {
  readonly path: string;
  readonly version: number;
  readonly alignment: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  /** Each metadata key's GGUF value type (a JS number may have been any integer or float type). */
  readonly metadataTypes: ReadonlyMap<string, number>;
  readonly tensors: ReadonlyMap<string, GgufTensorInfo>;
  /** Reads one tensor's bytes from disk into `into` (which must be exactly its size). */
  readTensor(name: string, into?: Uint8Array): Uint8Array;
  close(): void;
}

/**
 * What a GGUF header may claim, checked before anything is allocated for it: a file names its own
 * counts and lengths, and a reader that believes them can be made to allocate without bound.
 */
export const GGUF_LIMITS = {
  /**
   * The header (everything before the tensor data). A Qwen2.5 header (151,936 tokens, 151,387 merges
   * and the token types) is about 6 MiB; a Hugging Face tokenizer.json carried whole adds up to ~20 MB.
   */
  headerBytes: 64 * 2 ** 20,
  tensors: 65_536,
  metadataEntries: 65_536,
  /** All arrays together: a 256k-token vocabulary with its merges and types has under a million. */
  arrayItems: 1 << 24,
  /** The GGUF specification's limit on a key. */
  keyBytes: 65_535,
  /** The GGUF specification's limit on a tensor name (llama.cpp's GGML_MAX_NAME). */
  tensorNameBytes: 64,
  /** GGML_MAX_DIMS. */
  dims: 4,
} as const;

/** The fewest bytes a metadata entry (empty key, type, one-byte value) and a tensor info (one dimension) take. */
const MIN_ENTRY_BYTES = 8 + 4 + 1;
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8;

export class GgufError extends TesseraError {
  constructor(
    readonly path: string,
    problem: string,
    code = 'GGUF_INVALID',
    kind: ErrorKind = 'invalid',
  ) {
    super(code, kind, `${path}: ${problem}`);
  }
}

/** Thrown inside the header parser when the bytes read so far end before `end`, which the file does hold. */
class NeedMoreBytes extends Error {
  constructor(readonly end: number) {
    super(`header needs bytes up to ${end}`);
  }
}

/** Bytes an item of each fixed-width GGUF type takes. */
const ITEM_BYTES: Partial<Record<number, number>> = {
  [GgufValueType.UINT8]: 1,
  [GgufValueType.INT8]: 1,
  [GgufValueType.BOOL]: 1,
  [GgufValueType.UINT16]: 2,
  [GgufValueType.INT16]: 2,
  [GgufValueType.UINT32]: 4,
  [GgufValueType.INT32]: 4,
  [GgufValueType.FLOAT32]: 4,
  [GgufValueType.UINT64]: 8,
  [GgufValueType.INT64]: 8,
  [GgufValueType.FLOAT64]: 8,
};

class HeaderCursor {
  private pos = 0;
  private arrayItems = 0;
  private readonly view: DataView;
  private static readonly utf8 = new TextDecoder('utf-8', { fatal: false });

  constructor(
    private readonly bytes: Uint8Array,
    private readonly fileSize: number,
    private readonly path: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get offset(): number {
    return this.pos;
  }

  fail(problem: string): GgufError {
    return new GgufError(this.path, problem);
  }

  /** Makes sure the next `n` bytes are read, are in the file and are within the header limit. */
  ensure(n: number, what: string): void {
    const end = this.pos + n;
    if (end <= this.bytes.length) return;
    if (end > this.fileSize) {
      throw this.fail(
        `truncated header: ${what} needs bytes up to ${end}, the file has ${this.fileSize}: the file is truncated or corrupt`,
      );
    }
    if (end > GGUF_LIMITS.headerBytes)
      throw this.fail(
        `header: ${what} ends at byte ${end}, past the ${GGUF_LIMITS.headerBytes}-byte limit on a header`,
      );
    throw new NeedMoreBytes(end);
  }

  private take(n: number, what: string): number {
    this.ensure(n, what);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(): number {
    return this.view.getUint8(this.take(1, 'a value'));
  }
  i8(): number {
    return this.view.getInt8(this.take(1, 'a value'));
  }
  u16(): number {
    return this.view.getUint16(this.take(2, 'a value'), true);
  }
  i16(): number {
    return this.view.getInt16(this.take(2, 'a value'), true);
  }
  u32(what = 'a value'): number {
    return this.view.getUint32(this.take(4, what), true);
  }
  i32(): number {
    return this.view.getInt32(this.take(4, 'a value'), true);
  }
  f32(): number {
    return this.view.getFloat32(this.take(4, 'a value'), true);
  }
  f64(): number {
    return this.view.getFloat64(this.take(8, 'a value'), true);
  }
  u64(what = 'a value'): bigint {
    return this.view.getBigUint64(this.take(8, what), true);
  }
  i64(): bigint {
    return this.view.getBigInt64(this.take(8, 'a value'), true);
  }

  /** A u64 count, length or offset, at most `max`. */
  size(what: string, max: number = Number.MAX_SAFE_INTEGER): number {
    const value = this.u64(what);
    if (value > BigInt(max)) throw this.fail(`${what} ${value} is over the limit of ${max}`);
    return Number(value);
  }

  string(what: string, maxBytes: number): string {
    const length = this.size(`${what} length`, maxBytes);
    const at = this.take(length, what);
    return HeaderCursor.utf8.decode(this.bytes.subarray(at, at + length));
  }

  array(key: string): GgufArray {
    const itemType = this.u32(`item type of ${key}`);
    const itemBytes = ITEM_BYTES[itemType];
    if (itemType === GgufValueType.ARRAY) throw this.fail(`metadata ${key}: nested arrays are not supported`);
    if (itemBytes === undefined && itemType !== GgufValueType.STRING)
      throw this.fail(`metadata ${key} is an array of unknown value type ${itemType}`);
    const left = GGUF_LIMITS.arrayItems - this.arrayItems;
    const count = this.size(`array length of ${key}`);
    if (count > left) {
      throw this.fail(
        `array length of ${key} ${count} is over the limit of ${GGUF_LIMITS.arrayItems} items in all arrays together (${left} left)`,
      );
    }
    this.arrayItems += count;
    // A string takes at least its 8-byte length: the bytes must be there before the items are allocated.
    this.ensure(count * (itemBytes ?? 8), `array ${key} of ${count} items`);
    if (itemBytes === undefined) {
      const items: string[] = [];
      const what = `an item of ${key}`;
      for (let i = 0; i < count; i++) items.push(this.string(what, GGUF_LIMITS.headerBytes));
      return { itemType, items };
    }
    const at = this.take(count * itemBytes, `array ${key}`);
    return { itemType, items: this.packed(itemType, at, count) };
  }

  private packed(itemType: number, at: number, count: number): GgufPackedItems {
    const view = this.view;
    const step = ITEM_BYTES[itemType]!;
    const fill = <T extends { [i: number]: number | bigint }>(items: T, read: (offset: number) => T[number]) => {
      for (let i = 0; i < count; i++) items[i] = read(at + i * step);
      return items;
    };
    switch (itemType) {
      case GgufValueType.UINT8:
      case GgufValueType.BOOL:
        return this.bytes.slice(at, at + count);
      case GgufValueType.INT8:
        return new Int8Array(this.bytes.slice(at, at + count).buffer);
      case GgufValueType.UINT16:
        return fill(new Uint16Array(count), (o) => view.getUint16(o, true));
      case GgufValueType.INT16:
        return fill(new Int16Array(count), (o) => view.getInt16(o, true));
      case GgufValueType.UINT32:
        return fill(new Uint32Array(count), (o) => view.getUint32(o, true));
      case GgufValueType.INT32:
        return fill(new Int32Array(count), (o) => view.getInt32(o, true));
      case GgufValueType.FLOAT32:
        return fill(new Float32Array(count), (o) => view.getFloat32(o, true));
      case GgufValueType.FLOAT64:
        return fill(new Float64Array(count), (o) => view.getFloat64(o, true));
      case GgufValueType.UINT64:
        return fill(new BigUint64Array(count), (o) => view.getBigUint64(o, true));
      default:
        return fill(new BigInt64Array(count), (o) => view.getBigInt64(o, true));
    }
  }
}

function readValue(cursor: HeaderCursor, type: number, key: string): GgufValue {
  switch (type) {
    case GgufValueType.UINT8:
      return cursor.u8();
    case GgufValueType.INT8:
      return cursor.i8();
    case GgufValueType.UINT16:
      return cursor.u16();
    case GgufValueType.INT16:
      return cursor.i16();
    case GgufValueType.UINT32:
      return cursor.u32();
    case GgufValueType.INT32:
      return cursor.i32();
    case GgufValueType.FLOAT32:
      return cursor.f32();
    case GgufValueType.FLOAT64:
      return cursor.f64();
    case GgufValueType.UINT64:
      return cursor.u64();
    case GgufValueType.INT64:
      return cursor.i64();
    case GgufValueType.BOOL:
      return cursor.u8() !== 0;
    case GgufValueType.STRING:
      return cursor.string(`value of ${key}`, GGUF_LIMITS.headerBytes);
    case GgufValueType.ARRAY:
      return cursor.array(key);
    default:
      throw cursor.fail(`metadata ${key} has unknown value type ${type}`);
  }
}

interface ParsedHeader {
  version: number;
  alignment: number;
  metadata: Map<string, GgufValue>;
  metadataTypes: Map<string, number>;
  tensors: Map<string, GgufTensorInfo>;
}

function parseHeader(bytes: Uint8Array, fileSize: number, path: string): ParsedHeader {
  const cursor = new HeaderCursor(bytes, fileSize, path);
  const magic = cursor.u32('the magic');
  if (magic !== GGUF_MAGIC) {
    const shown = Buffer.from(bytes.subarray(0, 4))
      .toString('latin1')
      .replace(/[^\x20-\x7e]/g, '?');
    throw new GgufError(path, `not a GGUF file (magic "${shown}", expected "GGUF")`);
  }
  const version = cursor.u32('the version');
  if (version !== 2 && version !== 3)
    throw new GgufError(path, `GGUF version ${version} is not supported (only 2 and 3)`);
  const tensorCount = cursor.size('tensor count', GGUF_LIMITS.tensors);
  const kvCount = cursor.size('metadata count', GGUF_LIMITS.metadataEntries);
  cursor.ensure(
    kvCount * MIN_ENTRY_BYTES + tensorCount * MIN_TENSOR_INFO_BYTES,
    `${kvCount} metadata entries and ${tensorCount} tensor infos`,
  );

  const metadata = new Map<string, GgufValue>();
  const metadataTypes = new Map<string, number>();
  for (let i = 0; i < kvCount; i++) {
    const key = cursor.string('metadata key', GGUF_LIMITS.keyBytes);
    if (metadata.has(key)) throw new GgufError(path, `metadata ${key} appears twice`);
    const type = cursor.u32(`value type of ${key}`);
    metadata.set(key, readValue(cursor, type, key));
    metadataTypes.set(key, type);
  }
  const alignmentValue = metadata.get('general.alignment');
  const alignment = typeof alignmentValue === 'number' ? alignmentValue : GGUF_DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    throw new GgufError(path, `general.alignment ${String(alignmentValue)} is not a power of two`);
  }

  const raw: { name: string; dims: number[]; type: number; relative: number }[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = cursor.string('tensor name', GGUF_LIMITS.tensorNameBytes);
    const nDims = cursor.u32(`dimension count of ${name}`);
    if (nDims < 1 || nDims > GGUF_LIMITS.dims)
      throw new GgufError(path, `tensor ${name} has ${nDims} dimensions (1 to ${GGUF_LIMITS.dims} allowed)`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(cursor.size(`dimension ${d} of ${name}`));
    const type = cursor.u32(`type of ${name}`);
    const relative = cursor.size(`offset of ${name}`);
    raw.push({ name, dims, type, relative });
  }
  const dataStart = Math.ceil(cursor.offset / alignment) * alignment;

  const tensors = new Map<string, GgufTensorInfo>();
  for (const { name, dims, type, relative } of raw) {
    if (!isSupportedType(type)) {
      throw new GgufError(
        path,
        `tensor ${name} has type ${ggmlTypeName(type)}, which this engine does not support (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K)`,
      );
    }
    if (relative % alignment !== 0)
      throw new GgufError(path, `tensor ${name} offset ${relative} is not aligned to ${alignment}`);
    let count = 1;
    for (const dim of dims) {
      if (dim !== 0 && count > Number.MAX_SAFE_INTEGER / dim)
        throw new GgufError(path, `tensor ${name} of dimensions [${dims.join(', ')}] has more elements than 2^53`);
      count *= dim;
    }
    let size: number;
    try {
      size = byteSize(type, count);
    } catch (error) {
      throw new GgufError(path, `tensor ${name}: ${(error as Error).message}`);
    }
    const offset = dataStart + relative;
    // Compared this way round so that no sum of claimed sizes can overflow.
    if (size > fileSize || relative > fileSize - dataStart - size) {
      throw new GgufError(
        path,
        `tensor ${name} (${size} bytes at offset ${offset}) runs past the end of the file (${fileSize} bytes): the file is truncated or corrupt`,
      );
    }
    if (tensors.has(name)) throw new GgufError(path, `tensor ${name} appears twice`);
    tensors.set(name, { name, dims, type, offset, byteSize: size });
  }
  return { version, alignment, metadata, metadataTypes, tensors };
}

/**
 * The header of a GGUF file of `fileSize` bytes from its first bytes alone (a model's origin read by
 * HTTP range): a GgufError when they end before the header does.
 */
export function parseGgufHeader(
  bytes: Uint8Array,
  fileSize: number,
  source: string,
): Pick<GgufFile, 'version' | 'alignment' | 'metadata' | 'metadataTypes' | 'tensors'> {
  try {
    return parseHeader(bytes, fileSize, source);
  } catch (error) {
    if (!(error instanceof NeedMoreBytes)) throw error;
    throw new GgufError(source, `the header runs past its first ${bytes.length} bytes (to byte ${error.end})`);
  }
}

/** Reads from the file's start until `into` is full or the file ends; returns the bytes read. */
function readFully(fd: number, into: Uint8Array): number {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, into.length - done, done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/**
 * Opens a GGUF file and parses its header only; tensor data stays on disk until `readTensor`, so a
 * process that serves some layers never reads the others.
 */
export function openGguf(path: string): GgufFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new GgufError(
      path,
      `cannot open: ${code ?? (error as Error).message}`,
      'GGUF_UNREADABLE',
      code === 'ENOENT' ? 'not_found' : 'failed_precondition',
    );
  }
  try {
    const fileSize = fstatSync(fd).size;
    // Reads a first MiB, then as much more as the header turns out to need, up to the header limit.
    const limit = Math.min(fileSize, GGUF_LIMITS.headerBytes);
    let want = Math.min(limit, 1 << 20);
    let header: ParsedHeader | undefined;
    while (header === undefined) {
      const bytes = new Uint8Array(want);
      const got = readFully(fd, bytes);
      if (got < want)
        throw new GgufError(path, `the file shrank to ${got} bytes while its header was read (it was ${fileSize})`);
      try {
        header = parseHeader(bytes, fileSize, path);
      } catch (error) {
        if (!(error instanceof NeedMoreBytes)) throw error;
        want = Math.min(limit, Math.max(want * 4, error.end));
      }
    }
    const { version, alignment, metadata, metadataTypes, tensors } = header;
    let open = true;
    return {
      path,
      version,
      alignment,
      metadata,
      metadataTypes,
      tensors,
      readTensor(name, into) {
        if (!open) throw new GgufError(path, 'file is closed');
        const info = tensors.get(name);
        if (!info) throw new GgufError(path, `no tensor named ${name}`);
        const target = into ?? new Uint8Array(info.byteSize);
        if (target.length !== info.byteSize)
          throw new GgufError(path, `tensor ${name} has ${info.byteSize} bytes, buffer has ${target.length}`);
        let done = 0;
        while (done < info.byteSize) {
          const n = readSync(fd, target, done, info.byteSize - done, info.offset + done);
          if (n === 0)
            throw new GgufError(path, `tensor ${name}: file ended while reading (truncated since it was opened?)`);
          done += n;
        }
        return target;
      },
      close() {
        if (open) closeSync(fd);
        open = false;
      },
    };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}
