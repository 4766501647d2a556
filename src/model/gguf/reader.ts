import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { byteSize, ggmlTypeName, isSupportedType, type GgmlType } from '../../tensor/ggml-type.ts';
import { GgufValueType, type GgufArray, type GgufValue } from './value.ts';

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

export class GgufError extends Error {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'GgufError';
  }
}

/** Thrown inside the header parser when the bytes read so far end before the header does. */
class NeedMoreBytes extends Error {}

class HeaderCursor {
  private pos = 0;
  private readonly view: DataView;
  private static readonly utf8 = new TextDecoder('utf-8', { fatal: false });

  constructor(
    private readonly bytes: Uint8Array,
    private readonly isWholeFile: boolean,
    private readonly path: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get offset(): number {
    return this.pos;
  }

  private need(n: number): number {
    const at = this.pos;
    if (at + n > this.bytes.length) {
      if (this.isWholeFile)
        throw new GgufError(this.path, `truncated header: needs bytes up to ${at + n}, file has ${this.bytes.length}`);
      throw new NeedMoreBytes();
    }
    this.pos += n;
    return at;
  }

  u8(): number {
    return this.view.getUint8(this.need(1));
  }
  i8(): number {
    return this.view.getInt8(this.need(1));
  }
  u16(): number {
    return this.view.getUint16(this.need(2), true);
  }
  i16(): number {
    return this.view.getInt16(this.need(2), true);
  }
  u32(): number {
    return this.view.getUint32(this.need(4), true);
  }
  i32(): number {
    return this.view.getInt32(this.need(4), true);
  }
  f32(): number {
    return this.view.getFloat32(this.need(4), true);
  }
  f64(): number {
    return this.view.getFloat64(this.need(8), true);
  }
  u64(): bigint {
    return this.view.getBigUint64(this.need(8), true);
  }
  i64(): bigint {
    return this.view.getBigInt64(this.need(8), true);
  }

  /** A u64 that must fit a JS number (counts, lengths, offsets). */
  size(what: string): number {
    const value = this.u64();
    if (value > BigInt(Number.MAX_SAFE_INTEGER))
      throw new GgufError(this.path, `${what} ${value} is not a plausible size`);
    return Number(value);
  }

  string(what: string): string {
    const length = this.size(`${what} length`);
    if (length > this.bytes.length && this.isWholeFile)
      throw new GgufError(this.path, `${what} length ${length} runs past the end of the file`);
    const at = this.need(length);
    return HeaderCursor.utf8.decode(this.bytes.subarray(at, at + length));
  }
}

function readValue(cursor: HeaderCursor, type: number, key: string, path: string): GgufValue {
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
      return cursor.string(`value of ${key}`);
    case GgufValueType.ARRAY: {
      const itemType = cursor.u32();
      if (itemType === GgufValueType.ARRAY)
        throw new GgufError(path, `metadata ${key}: nested arrays are not supported`);
      const count = cursor.size(`array length of ${key}`);
      const items: GgufValue[] = new Array(count);
      for (let i = 0; i < count; i++) items[i] = readValue(cursor, itemType, key, path);
      return { itemType, items } satisfies GgufArray;
    }
    default:
      throw new GgufError(path, `metadata ${key} has unknown value type ${type}`);
  }
}

interface ParsedHeader {
  version: number;
  alignment: number;
  metadata: Map<string, GgufValue>;
  metadataTypes: Map<string, number>;
  tensors: Map<string, GgufTensorInfo>;
}

function parseHeader(bytes: Uint8Array, isWholeFile: boolean, fileSize: number, path: string): ParsedHeader {
  const cursor = new HeaderCursor(bytes, isWholeFile, path);
  const magic = cursor.u32();
  if (magic !== GGUF_MAGIC) {
    const shown = Buffer.from(bytes.subarray(0, 4))
      .toString('latin1')
      .replace(/[^\x20-\x7e]/g, '?');
    throw new GgufError(path, `not a GGUF file (magic "${shown}", expected "GGUF")`);
  }
  const version = cursor.u32();
  if (version !== 2 && version !== 3)
    throw new GgufError(path, `GGUF version ${version} is not supported (only 2 and 3)`);
  const tensorCount = cursor.size('tensor count');
  const kvCount = cursor.size('metadata count');

  const metadata = new Map<string, GgufValue>();
  const metadataTypes = new Map<string, number>();
  for (let i = 0; i < kvCount; i++) {
    const key = cursor.string('metadata key');
    const type = cursor.u32();
    metadata.set(key, readValue(cursor, type, key, path));
    metadataTypes.set(key, type);
  }
  const alignmentValue = metadata.get('general.alignment');
  const alignment = typeof alignmentValue === 'number' ? alignmentValue : GGUF_DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    throw new GgufError(path, `general.alignment ${String(alignmentValue)} is not a power of two`);
  }

  const raw: { name: string; dims: number[]; type: number; relative: number }[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = cursor.string('tensor name');
    const nDims = cursor.u32();
    if (nDims < 1 || nDims > 4) throw new GgufError(path, `tensor ${name} has ${nDims} dimensions (1 to 4 allowed)`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(cursor.size(`dimension of ${name}`));
    const type = cursor.u32();
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
    const count = dims.reduce((a, b) => a * b, 1);
    let size: number;
    try {
      size = byteSize(type, count);
    } catch (error) {
      throw new GgufError(path, `tensor ${name}: ${(error as Error).message}`);
    }
    const offset = dataStart + relative;
    if (offset + size > fileSize) {
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
 * Opens a GGUF file and parses its header only; tensor data stays on disk until `readTensor`, so a
 * process that serves some layers never reads the others.
 */
export function openGguf(path: string): GgufFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new GgufError(path, `cannot open: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    const fileSize = fstatSync(fd).size;
    let header: ParsedHeader | undefined;
    for (let want = Math.min(fileSize, 1 << 20); header === undefined; want = Math.min(fileSize, want * 4)) {
      const bytes = new Uint8Array(want);
      const got = readSync(fd, bytes, 0, want, 0);
      try {
        header = parseHeader(bytes.subarray(0, got), got === fileSize, fileSize, path);
      } catch (error) {
        if (!(error instanceof NeedMoreBytes)) throw error;
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
