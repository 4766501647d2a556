import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { GgmlType } from '../../tensor/ggml-type.ts';
import { testModel } from '../../../test/support/models.ts';
import { openModel } from '../open-model.ts';
import { GGUF_LIMITS, GgufError, openGguf } from './reader.ts';
import { GgufValueType } from './value.ts';
import { GgufMetadataBuilder, writeGguf } from './writer.ts';
import { garbageCollector, memoryInUse } from '../../../test/support/fuzz.ts';
import { ggufByteArray, ggufClaimingArray, RawGguf } from '../../../test/support/hostile-files.ts';

const dir = mkdtempSync(join(tmpdir(), 'gguf-reader-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const STORIES = testModel('stories260K.gguf');

test('stories260K: header, metadata and tensors read lazily by offset', () => {
  const file = openGguf(STORIES);
  try {
    assert.equal(file.version, 3);
    assert.equal(file.alignment, 32);
    assert.equal(file.metadata.get('general.architecture'), 'llama');
    assert.equal(file.tensors.size, 48);
    const embedding = file.tensors.get('token_embd.weight')!;
    assert.deepEqual(embedding.dims, [64, 512]);
    assert.equal(embedding.type, GgmlType.F32);
    const bytes = file.readTensor('output_norm.weight');
    const whole = readFileSync(STORIES);
    const info = file.tensors.get('output_norm.weight')!;
    assert.ok(Buffer.from(bytes).equals(whole.subarray(info.offset, info.offset + info.byteSize)));
  } finally {
    file.close();
  }
});

function expectGgufError(path: string, pattern: RegExp, code = 'GGUF_INVALID'): void {
  assert.throws(
    () => openGguf(path),
    (error: unknown) =>
      error instanceof GgufError &&
      error.code === code &&
      error.message.startsWith(`${path}: `) &&
      pattern.test(error.message),
  );
}

test('a wrong magic, a truncated header, a tensor past the end and an unknown version fail at once', () => {
  const wrongMagic = join(dir, 'magic.gguf');
  writeFileSync(wrongMagic, Buffer.concat([Buffer.from('GGML'), readFileSync(STORIES).subarray(4, 4096)]));
  expectGgufError(wrongMagic, /not a GGUF file \(magic "GGML", expected "GGUF"\)/);

  const header = join(dir, 'header.gguf');
  copyFileSync(STORIES, header);
  truncateSync(header, 2000);
  expectGgufError(header, /truncated header/);

  const tail = join(dir, 'tail.gguf');
  copyFileSync(STORIES, tail);
  truncateSync(tail, 1_000_000);
  expectGgufError(
    tail,
    /tensor blk\.\d\.\w+\.weight \(\d+ bytes at offset \d+\) runs past the end of the file \(1000000 bytes\)/,
  );

  const version = join(dir, 'version.gguf');
  const bytes = readFileSync(STORIES).subarray(0, 4096);
  bytes.writeUInt32LE(7, 4);
  writeFileSync(version, bytes);
  expectGgufError(version, /GGUF version 7 is not supported/);

  expectGgufError(join(dir, 'missing.gguf'), /cannot open: ENOENT/, 'GGUF_UNREADABLE');
});

test('an unsupported tensor type is named with its tensor; an unknown architecture is named with its file', () => {
  // Our writer refuses Q5_K, so write an F32 tensor of Q5_K's block size and retype it in the header.
  const q5k = join(dir, 'q5k.gguf');
  writeGguf(q5k, {
    metadata: new GgufMetadataBuilder().string('general.architecture', 'llama'),
    tensors: [{ name: 'blk.0.ffn_up.weight', dims: [44, 1], type: GgmlType.F32, data: new Uint8Array(176) }],
  });
  const bytes = readFileSync(q5k);
  const typeAt = bytes.indexOf('blk.0.ffn_up.weight') + 'blk.0.ffn_up.weight'.length + 4 + 2 * 8;
  assert.equal(bytes.readUInt32LE(typeAt), GgmlType.F32);
  bytes.writeUInt32LE(13, typeAt);
  bytes.writeBigUInt64LE(256n, typeAt - 16);
  writeFileSync(q5k, bytes);
  expectGgufError(q5k, /tensor blk\.0\.ffn_up\.weight has type Q5_K, which this engine does not support/);

  const mamba = join(dir, 'mamba.gguf');
  writeGguf(mamba, {
    metadata: new GgufMetadataBuilder().string('general.architecture', 'mamba'),
    tensors: [{ name: 'token_embd.weight', dims: [4, 2], type: GgmlType.F32, data: new Uint8Array(32) }],
  });
  assert.throws(
    () => openModel(mamba),
    new RegExp(
      `^Error: ${mamba.replace(/[.]/g, '\\.')}: architecture "mamba" is not supported \\(supported: llama, qwen2\\)`,
    ),
  );
});

function hostile(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** A header of no metadata and one tensor, its fields as given. */
function oneTensor(name: string, dims: readonly (number | bigint)[], relative: bigint | number = 0): Buffer {
  const raw = new RawGguf().u64(1).u64(0).string(name).u32(dims.length);
  for (const d of dims) raw.u64(d);
  return raw.u32(GgmlType.F32).u64(relative).bytes(new Uint8Array(64)).build();
}

test('counts and lengths a header claims are checked against the limits and the bytes there, naming field, value and limit', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    [
      'array 2^40',
      ggufClaimingArray(2n ** 40n),
      /array length of tokenizer\.ggml\.tokens 1099511627776 is over the limit of 16777216 items in all arrays together/,
    ],
    [
      'array past the end',
      ggufClaimingArray(1_000_000n),
      /truncated header: array tokenizer\.ggml\.tokens of 1000000 items needs bytes up to 8000069, the file has 69/,
    ],
    [
      'array 2^64-1',
      ggufClaimingArray(2n ** 64n - 1n),
      /array length of tokenizer\.ggml\.tokens 18446744073709551615 is over/,
    ],
    [
      'tensor count',
      new RawGguf()
        .u64(2n ** 20n)
        .u64(0)
        .build(),
      /tensor count 1048576 is over the limit of 65536/,
    ],
    [
      'metadata count',
      new RawGguf()
        .u64(0)
        .u64(2n ** 62n)
        .build(),
      /metadata count 4611686018427387904 is over the limit of 65536/,
    ],
    [
      'counts past the end',
      new RawGguf().u64(60_000).u64(60_000).build(),
      /truncated header: 60000 metadata entries and 60000 tensor infos needs bytes up to \d+, the file has 24/,
    ],
    [
      'string length',
      new RawGguf()
        .u64(0)
        .u64(1)
        .u64(2n ** 53n + 1n)
        .bytes(new Uint8Array(16))
        .build(),
      /metadata key length 9007199254740993 is over the limit of 65535/,
    ],
    [
      'value string length',
      new RawGguf()
        .u64(0)
        .u64(1)
        .string('k')
        .u32(GgufValueType.STRING)
        .u64(2n ** 32n)
        .build(),
      /value of k length 4294967296 is over the limit of 67108864/,
    ],
    [
      'duplicate key',
      new RawGguf()
        .u64(0)
        .u64(2)
        .string('k')
        .u32(GgufValueType.UINT8)
        .bytes(Uint8Array.of(1))
        .string('k')
        .u32(GgufValueType.UINT8)
        .bytes(Uint8Array.of(2))
        .build(),
      /metadata k appears twice/,
    ],
    [
      'nested array',
      new RawGguf().u64(0).u64(1).string('k').u32(GgufValueType.ARRAY).u32(GgufValueType.ARRAY).u64(1).build(),
      /metadata k: nested arrays are not supported/,
    ],
    ['tensor name', oneTensor('x'.repeat(65), [1]), /tensor name length 65 is over the limit of 64/],
    [
      'dimensions',
      new RawGguf().u64(1).u64(0).string('t').u32(5).bytes(new Uint8Array(64)).build(),
      /tensor t has 5 dimensions \(1 to 4 allowed\)/,
    ],
    [
      'element count',
      oneTensor('t', [2 ** 30, 2 ** 30, 2 ** 30]),
      /tensor t of dimensions \[1073741824, 1073741824, 1073741824\] has more elements than 2\^53/,
    ],
    [
      'dimension',
      oneTensor('t', [2n ** 60n]),
      /dimension 0 of t 1152921504606846976 is over the limit of 9007199254740991/,
    ],
    ['offset', oneTensor('t', [4], 2n ** 52n), /tensor t \(16 bytes at offset \d+\) runs past the end of the file/],
  ];
  for (const [name, bytes, pattern] of cases)
    expectGgufError(hostile(`${name.replace(/\W/g, '-')}.gguf`, bytes), pattern);
});

test('a header past the 64 MiB limit is refused once the limit is read, whatever the file size', () => {
  const big = new RawGguf()
    .u64(0)
    .u64(1)
    .string('k')
    .u32(GgufValueType.STRING)
    .u64(GGUF_LIMITS.headerBytes)
    .bytes(new Uint8Array(GGUF_LIMITS.headerBytes))
    .build();
  expectGgufError(
    hostile('too-big.gguf', big),
    /header: value of k ends at byte 67108909, past the 67108864-byte limit on a header/,
  );
});

test('a 6 MiB array of bytes keeps about its own size in memory (it took 48 MiB of heap as a JS array)', () => {
  const gc = garbageCollector();
  const path = hostile('bytes.gguf', ggufByteArray(6 * 2 ** 20));
  gc();
  const before = memoryInUse();
  const file = openGguf(path);
  gc();
  const kept = memoryInUse() - before;
  const items = file.metadata.get('tessera.test.bytes');
  file.close();
  assert.ok(kept < 8 * 2 ** 20, `kept ${kept} bytes for a 6 MiB header`);
  assert.deepEqual(items && typeof items === 'object' && [items.itemType, items.items.length, items.items[0]], [
    GgufValueType.UINT8,
    6 * 2 ** 20,
    7,
  ]);
});
