import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { byteSize, ggmlTypeName, isSupportedType, type GgmlType } from '../../tensor/ggml-type.ts';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC } from './reader.ts';
import { arrayItems, GgufValueType, isGgufArray, type GgufValue } from './value.ts';

export type GgufValueTypeId = (typeof GgufValueType)[keyof typeof GgufValueType];

export interface GgufMetadataEntry {
  readonly key: string;
  readonly type: GgufValueTypeId;
  /** For ARRAY, a `GgufArray` ({ itemType, items }). */
  readonly value: GgufValue;
}

/** Tensor bytes: given whole, or produced when the writer reaches the tensor (whole or in chunks). */
export type GgufTensorData = Uint8Array | (() => Uint8Array | Iterable<Uint8Array>);

export interface GgufTensorSpec {
  readonly name: string;
  /** GGML order: dims[0] is the row length. */
  readonly dims: readonly number[];
  readonly type: GgmlType;
  readonly data: GgufTensorData;
}

export interface GgufWriteSpec {
  readonly metadata: Iterable<GgufMetadataEntry>;
  readonly tensors: readonly GgufTensorSpec[];
}

export class GgufWriteError extends Error {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'GgufWriteError';
  }
}

/** Builds metadata entries with their GGUF value types spelled out once, at the call site. */
export class GgufMetadataBuilder implements Iterable<GgufMetadataEntry> {
  private readonly list: GgufMetadataEntry[] = [];

  private add(key: string, type: GgufValueTypeId, value: GgufValue): this {
    this.list.push({ key, type, value });
    return this;
  }

  u8(key: string, value: number): this {
    return this.add(key, GgufValueType.UINT8, value);
  }
  i8(key: string, value: number): this {
    return this.add(key, GgufValueType.INT8, value);
  }
  u16(key: string, value: number): this {
    return this.add(key, GgufValueType.UINT16, value);
  }
  i16(key: string, value: number): this {
    return this.add(key, GgufValueType.INT16, value);
  }
  u32(key: string, value: number): this {
    return this.add(key, GgufValueType.UINT32, value);
  }
  i32(key: string, value: number): this {
    return this.add(key, GgufValueType.INT32, value);
  }
  u64(key: string, value: bigint): this {
    return this.add(key, GgufValueType.UINT64, value);
  }
  i64(key: string, value: bigint): this {
    return this.add(key, GgufValueType.INT64, value);
  }
  f32(key: string, value: number): this {
    return this.add(key, GgufValueType.FLOAT32, value);
  }
  f64(key: string, value: number): this {
    return this.add(key, GgufValueType.FLOAT64, value);
  }
  bool(key: string, value: boolean): this {
    return this.add(key, GgufValueType.BOOL, value);
  }
  string(key: string, value: string): this {
    return this.add(key, GgufValueType.STRING, value);
  }
  array(key: string, itemType: GgufValueTypeId, items: readonly GgufValue[]): this {
    return this.add(key, GgufValueType.ARRAY, { itemType, items });
  }

  [Symbol.iterator](): Iterator<GgufMetadataEntry> {
    return this.list[Symbol.iterator]();
  }
}

const utf8 = new TextEncoder();

/** Grows as the header is serialized; the header (vocabularies included) is small next to the tensors. */
class HeaderBuffer {
  private bytes = new Uint8Array(1 << 16);
  private view = new DataView(this.bytes.buffer);
  length = 0;

  /** Claims n bytes; may replace `bytes` and `view`, so callers read them only after calling it. */
  private reserve(n: number): number {
    if (this.length + n > this.bytes.length) {
      const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
      this.view = new DataView(grown.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  u8(v: number): void {
    const at = this.reserve(1);
    this.view.setUint8(at, v);
  }
  i8(v: number): void {
    const at = this.reserve(1);
    this.view.setInt8(at, v);
  }
  u16(v: number): void {
    const at = this.reserve(2);
    this.view.setUint16(at, v, true);
  }
  i16(v: number): void {
    const at = this.reserve(2);
    this.view.setInt16(at, v, true);
  }
  u32(v: number): void {
    const at = this.reserve(4);
    this.view.setUint32(at, v, true);
  }
  i32(v: number): void {
    const at = this.reserve(4);
    this.view.setInt32(at, v, true);
  }
  f32(v: number): void {
    const at = this.reserve(4);
    this.view.setFloat32(at, v, true);
  }
  f64(v: number): void {
    const at = this.reserve(8);
    this.view.setFloat64(at, v, true);
  }
  u64(v: bigint): void {
    const at = this.reserve(8);
    this.view.setBigUint64(at, v, true);
  }
  i64(v: bigint): void {
    const at = this.reserve(8);
    this.view.setBigInt64(at, v, true);
  }
  string(s: string): void {
    const encoded = utf8.encode(s);
    this.u64(BigInt(encoded.length));
    const at = this.reserve(encoded.length); // may replace this.bytes
    this.bytes.set(encoded, at);
  }
  padTo(alignment: number): void {
    this.reserve((alignment - (this.length % alignment)) % alignment); // new space is already zero
  }
  contents(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

const INTEGER_RANGES: Partial<Record<number, readonly [number, number]>> = {
  [GgufValueType.UINT8]: [0, 0xff],
  [GgufValueType.INT8]: [-0x80, 0x7f],
  [GgufValueType.UINT16]: [0, 0xffff],
  [GgufValueType.INT16]: [-0x8000, 0x7fff],
  [GgufValueType.UINT32]: [0, 0xffffffff],
  [GgufValueType.INT32]: [-0x80000000, 0x7fffffff],
};

function writeValue(out: HeaderBuffer, type: number, value: GgufValue, key: string): void {
  const shown = isGgufArray(value) ? 'an array' : `${typeof value} ${String(value)}`;
  const wrong = (expected: string) => new Error(`metadata ${key}: expected ${expected}, got ${shown}`);
  const range = INTEGER_RANGES[type];
  if (range) {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < range[0] || value > range[1]) {
      throw wrong(`an integer in [${range[0]}, ${range[1]}]`);
    }
  }
  switch (type) {
    case GgufValueType.UINT8:
      return out.u8(value as number);
    case GgufValueType.INT8:
      return out.i8(value as number);
    case GgufValueType.UINT16:
      return out.u16(value as number);
    case GgufValueType.INT16:
      return out.i16(value as number);
    case GgufValueType.UINT32:
      return out.u32(value as number);
    case GgufValueType.INT32:
      return out.i32(value as number);
    case GgufValueType.FLOAT32:
    case GgufValueType.FLOAT64:
      if (typeof value !== 'number') throw wrong('a number');
      return type === GgufValueType.FLOAT32 ? out.f32(value) : out.f64(value);
    case GgufValueType.UINT64:
    case GgufValueType.INT64: {
      if (typeof value !== 'bigint') throw wrong('a bigint');
      const fits =
        type === GgufValueType.UINT64 ? BigInt.asUintN(64, value) === value : BigInt.asIntN(64, value) === value;
      if (!fits) throw wrong(`a ${type === GgufValueType.UINT64 ? 'u64' : 'i64'}`);
      return type === GgufValueType.UINT64 ? out.u64(value) : out.i64(value);
    }
    case GgufValueType.BOOL:
      if (typeof value !== 'boolean') throw wrong('a boolean');
      return out.u8(value ? 1 : 0);
    case GgufValueType.STRING:
      if (typeof value !== 'string') throw wrong('a string');
      return out.string(value);
    case GgufValueType.ARRAY: {
      if (!isGgufArray(value)) throw wrong('an array');
      if (value.itemType === GgufValueType.ARRAY) throw new Error(`metadata ${key}: nested arrays are not supported`);
      out.u32(value.itemType);
      const items = arrayItems(value);
      out.u64(BigInt(items.length));
      for (const item of items) writeValue(out, value.itemType, item, key);
      return;
    }
    default:
      throw new Error(`metadata ${key}: unknown value type ${type}`);
  }
}

interface PlacedTensor {
  readonly spec: GgufTensorSpec;
  readonly relative: number;
  readonly byteSize: number;
}

function serializeHeader(spec: GgufWriteSpec, alignment: number): { header: Uint8Array; placed: PlacedTensor[] } {
  const entries = [...spec.metadata];
  const keys = new Set<string>();
  for (const { key, type, value } of entries) {
    if (keys.has(key)) throw new Error(`metadata ${key} appears twice`);
    keys.add(key);
    if (key === 'general.alignment' && !(type === GgufValueType.UINT32 && value === alignment)) {
      throw new Error(`metadata general.alignment must be the u32 ${alignment} this writer aligns to`);
    }
  }
  if (!keys.has('general.alignment'))
    entries.push({ key: 'general.alignment', type: GgufValueType.UINT32, value: alignment });

  const placed: PlacedTensor[] = [];
  const names = new Set<string>();
  let relative = 0;
  for (const tensor of spec.tensors) {
    const { name, dims, type } = tensor;
    if (names.has(name)) throw new Error(`tensor ${name} appears twice`);
    names.add(name);
    if (dims.length < 1 || dims.length > 4 || dims.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new Error(`tensor ${name} has dimensions [${dims.join(', ')}] (1 to 4 positive integers allowed)`);
    }
    if (!isSupportedType(type))
      throw new Error(`tensor ${name} has type ${ggmlTypeName(type)}, which the writer does not support`);
    let size: number;
    try {
      // Blocks never straddle rows: the row length itself must be a whole number of blocks.
      byteSize(type, dims[0]!);
      size = byteSize(
        type,
        dims.reduce((a, b) => a * b, 1),
      );
    } catch (error) {
      throw new Error(`tensor ${name} [${dims.join(', ')}]: ${(error as Error).message}`);
    }
    if (typeof tensor.data !== 'function' && tensor.data.length !== size) {
      throw new Error(`tensor ${name} needs ${size} bytes of ${ggmlTypeName(type)}, data has ${tensor.data.length}`);
    }
    placed.push({ spec: tensor, relative, byteSize: size });
    relative += Math.ceil(size / alignment) * alignment;
  }

  const out = new HeaderBuffer();
  out.u32(GGUF_MAGIC);
  out.u32(3);
  out.u64(BigInt(placed.length));
  out.u64(BigInt(entries.length));
  for (const { key, type, value } of entries) {
    out.string(key);
    out.u32(type);
    writeValue(out, type, value, key);
  }
  for (const { spec: tensor, relative: offset } of placed) {
    out.string(tensor.name);
    out.u32(tensor.dims.length);
    for (const d of tensor.dims) out.u64(BigInt(d));
    out.u32(tensor.type);
    out.u64(BigInt(offset));
  }
  out.padTo(alignment);
  return { header: out.contents(), placed };
}

/** Coalesces small chunks into large writes. */
class FileSink {
  private readonly buffer = new Uint8Array(4 << 20);
  private used = 0;
  written = 0;

  constructor(private readonly fd: number) {}

  write(chunk: Uint8Array): void {
    if (chunk.length >= this.buffer.length) {
      this.flush();
      this.writeFully(chunk);
      return;
    }
    if (this.used + chunk.length > this.buffer.length) this.flush();
    this.buffer.set(chunk, this.used);
    this.used += chunk.length;
  }

  zeros(n: number): void {
    if (n > 0) this.write(new Uint8Array(n));
  }

  flush(): void {
    this.writeFully(this.buffer.subarray(0, this.used));
    this.used = 0;
  }

  private writeFully(bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done);
    this.written += bytes.length;
  }
}

function* chunksOf(data: GgufTensorData): Iterable<Uint8Array> {
  const produced = typeof data === 'function' ? data() : data;
  if (produced instanceof Uint8Array) yield produced;
  else yield* produced;
}

/**
 * Writes a GGUF v3 file. Tensor data is produced and written one tensor (or chunk) at a time, so a
 * multi-gigabyte model never sits in memory. The file appears under `path` only once complete.
 * Returns the file's size in bytes.
 */
export function writeGguf(path: string, spec: GgufWriteSpec, alignment = GGUF_DEFAULT_ALIGNMENT): number {
  let layout: ReturnType<typeof serializeHeader>;
  try {
    layout = serializeHeader(spec, alignment);
  } catch (error) {
    throw new GgufWriteError(path, (error as Error).message);
  }
  const partial = `${path}.partial-${process.pid}`;
  let fd: number;
  try {
    fd = openSync(partial, 'w');
  } catch (error) {
    throw new GgufWriteError(
      path,
      `cannot create ${partial}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  let open = true;
  try {
    const sink = new FileSink(fd);
    sink.write(layout.header);
    for (const { spec: tensor, byteSize: size } of layout.placed) {
      let got = 0;
      for (const chunk of chunksOf(tensor.data)) {
        got += chunk.length;
        if (got > size) break;
        sink.write(chunk);
      }
      if (got !== size) {
        throw new GgufWriteError(
          path,
          `tensor ${tensor.name} needs ${size} bytes of ${ggmlTypeName(tensor.type)}, its data produced ${got > size ? 'more' : got}`,
        );
      }
      sink.zeros((alignment - (size % alignment)) % alignment);
    }
    sink.flush();
    closeSync(fd);
    open = false;
    renameSync(partial, path);
    return sink.written;
  } catch (error) {
    if (open) closeSync(fd);
    rmSync(partial, { force: true });
    throw error;
  }
}
