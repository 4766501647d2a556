// Files an attacker would hand us: GGUF headers written byte by byte, so they can claim what no writer
// would produce.
import { writeFileSync } from 'node:fs';
import { GGUF_MAGIC } from '../../src/model/gguf/reader.ts';
import { GgufValueType } from '../../src/model/gguf/value.ts';

/** Little-endian GGUF fields, appended in order. */
export class RawGguf {
  private readonly parts: Buffer[] = [];

  constructor(version = 3) {
    this.u32(GGUF_MAGIC).u32(version);
  }

  u32(value: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value);
    this.parts.push(b);
    return this;
  }

  u64(value: bigint | number): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(value));
    this.parts.push(b);
    return this;
  }

  string(text: string): this {
    const bytes = Buffer.from(text, 'utf8');
    return this.u64(bytes.length).bytes(bytes);
  }

  bytes(bytes: Uint8Array): this {
    this.parts.push(Buffer.from(bytes));
    return this;
  }

  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/**
 * A GGUF with no tensors whose one metadata entry, tokenizer.ggml.tokens, claims `count` strings
 * and holds none: the attacker's 2^40-item array.
 */
export function ggufClaimingArray(count: bigint): Buffer {
  return new RawGguf()
    .u64(0)
    .u64(1)
    .string('tokenizer.ggml.tokens')
    .u32(GgufValueType.ARRAY)
    .u32(GgufValueType.STRING)
    .u64(count)
    .build();
}

/** A GGUF with no tensors whose header is one array of `count` bytes (all there): cheap to store, dear to parse. */
export function ggufByteArray(count: number): Buffer {
  return new RawGguf()
    .u64(0)
    .u64(1)
    .string('tessera.test.bytes')
    .u32(GgufValueType.ARRAY)
    .u32(GgufValueType.UINT8)
    .u64(count)
    .bytes(new Uint8Array(count).fill(7))
    .build();
}

export function writeFile(path: string, bytes: Uint8Array): string {
  writeFileSync(path, bytes);
  return path;
}
