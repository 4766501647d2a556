import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { GgmlType } from '../../tensor/ggml-type.ts';
import { testModel } from '../../../test/support/models.ts';
import { openModel } from '../open-model.ts';
import { GgufError, openGguf } from './reader.ts';
import { GgufMetadataBuilder, writeGguf } from './writer.ts';

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

function expectGgufError(path: string, pattern: RegExp): void {
  assert.throws(
    () => openGguf(path),
    (error: unknown) =>
      error instanceof GgufError && error.message.startsWith(`${path}: `) && pattern.test(error.message),
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

  expectGgufError(join(dir, 'missing.gguf'), /cannot open: ENOENT/);
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
