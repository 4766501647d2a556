import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { GgmlType } from '../tensor/ggml-type.ts';
import { openSafetensors, SAFETENSORS_LIMITS, SafetensorsError, writeSafetensors } from './safetensors.ts';

const dir = mkdtempSync(join(tmpdir(), 'safetensors-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const f32 = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);

/** A file with a hand-written header, to build inputs the writer would refuse to produce. */
function rawFile(name: string, header: unknown, dataBytes: number): string {
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([length, json, Buffer.alloc(dataBytes)]));
  return path;
}

test('tensors round-trip with GGML dims, types and absolute offsets', () => {
  const path = join(dir, 'model.safetensors');
  const matrix = f32([1, 2, 3, 4, 5, 6]);
  const half = new Uint8Array([0x00, 0x3c, 0x00, 0xc0]);
  writeSafetensors(
    path,
    [
      { name: 'w', dtype: 'F32', shape: [2, 3], data: matrix },
      { name: 'h', dtype: 'F16', shape: [2], data: half },
      { name: 'b', dtype: 'BF16', shape: [], data: new Uint8Array([0x80, 0x3f]) },
    ],
    { format: 'pt' },
  );
  const file = openSafetensors(path);
  try {
    assert.deepEqual(file.metadata, { format: 'pt' });
    const w = file.tensors.get('w')!;
    assert.deepEqual([w.type, w.dims, w.shape, w.byteSize], [GgmlType.F32, [3, 2], [2, 3], 24]);
    assert.equal(file.tensors.get('h')!.type, GgmlType.F16);
    assert.deepEqual(file.tensors.get('b')!.dims, [1]);
    assert.equal(file.tensors.get('b')!.type, GgmlType.BF16);
    assert.equal(readFileSync(path).readBigUInt64LE(0) % 8n, 0n, 'header padded to 8 bytes');
    assert.deepEqual(file.readTensor('w'), matrix);
    assert.deepEqual(file.readTensor('h'), half);
    const into = new Uint8Array(2);
    file.readTensor('b', into);
    assert.deepEqual(into, new Uint8Array([0x80, 0x3f]));
    assert.throws(() => file.readTensor('nope'), /no tensor named nope/);
    assert.throws(() => file.readTensor('w', new Uint8Array(3)), /tensor w has 24 bytes, buffer has 3/);
  } finally {
    file.close();
  }
});

test('a sharded checkpoint opens through its index, each tensor read from its own shard', () => {
  const sub = mkdtempSync(join(dir, 'sharded-'));
  writeSafetensors(join(sub, 'model-00001-of-00002.safetensors'), [
    { name: 'a', dtype: 'F32', shape: [2], data: f32([1, 2]) },
  ]);
  writeSafetensors(join(sub, 'model-00002-of-00002.safetensors'), [
    { name: 'b', dtype: 'F32', shape: [1], data: f32([3]) },
  ]);
  const index = join(sub, 'model.safetensors.index.json');
  writeFileSync(
    index,
    JSON.stringify({
      metadata: {},
      weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' },
    }),
  );
  const file = openSafetensors(index);
  try {
    assert.deepEqual([...file.tensors.keys()].sort(), ['a', 'b']);
    assert.match(file.tensors.get('b')!.path, /model-00002-of-00002/);
    assert.deepEqual(file.readTensor('a'), f32([1, 2]));
    assert.deepEqual(file.readTensor('b'), f32([3]));
  } finally {
    file.close();
  }

  writeFileSync(
    index,
    JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors', c: 'model-00003-of-00003.safetensors' } }),
  );
  assert.throws(
    () => openSafetensors(index),
    (error: Error) =>
      error.message.startsWith(index) &&
      /shard .*model-00003-of-00003.safetensors named in the index is missing/.test(error.message),
  );
  writeFileSync(index, '{"weight_map": 3}');
  assert.throws(() => openSafetensors(index), /index has no weight_map object/);
});

test('bad files fail at once, naming the file and the problem', () => {
  const short = join(dir, 'short.safetensors');
  writeFileSync(short, Buffer.alloc(5));
  assert.throws(
    () => openSafetensors(short),
    (error: Error) => error.message === `${short}: truncated: 5 bytes, too short for the 8-byte header length`,
  );

  const huge = join(dir, 'huge.safetensors');
  const big = Buffer.alloc(16);
  big.writeBigUInt64LE(1n << 40n);
  writeFileSync(huge, big);
  assert.throws(
    () => openSafetensors(huge),
    /huge\.safetensors: header length 1099511627776 is larger than the 100000000-byte limit/,
  );

  const cut = join(dir, 'cut.safetensors');
  writeSafetensors(cut, [{ name: 'w', dtype: 'F32', shape: [4], data: f32([1, 2, 3, 4]) }]);
  const header = readFileSync(cut).readBigUInt64LE(0);
  truncateSync(cut, 8 + Number(header) + 10);
  assert.throws(
    () => openSafetensors(cut),
    /cut\.safetensors: tensor w \(bytes 0\.\.16 of the data\) runs past the end of the file \(10 data bytes\)/,
  );
  truncateSync(cut, 12);
  assert.throws(() => openSafetensors(cut), /cut\.safetensors: truncated: the header needs \d+ bytes, the file has 12/);

  const i64 = rawFile('i64.safetensors', { t: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, 8);
  assert.throws(
    () => openSafetensors(i64),
    /i64\.safetensors: tensor t has dtype I64, which this engine does not support \(supported: F32, F16, BF16\)/,
  );

  const mismatch = rawFile('mismatch.safetensors', { t: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8);
  assert.throws(() => openSafetensors(mismatch), /tensor t: shape \[3\] of F32 needs 12 bytes, data_offsets span 8/);

  const notJson = join(dir, 'notjson.safetensors');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(3n);
  writeFileSync(notJson, Buffer.concat([length, Buffer.from('{x}')]));
  assert.throws(() => openSafetensors(notJson), /notjson\.safetensors: header is not valid JSON/);

  assert.throws(() => openSafetensors(join(dir, 'absent.safetensors')), /absent\.safetensors: cannot open: ENOENT/);
  assert.throws(
    () =>
      writeSafetensors(join(dir, 'w.safetensors'), [{ name: 'w', dtype: 'F16', shape: [3], data: new Uint8Array(4) }]),
    /tensor w: shape \[3\] of F16 needs 6 bytes, data has 4/,
  );
});

/** Asserts `open` fails with a SafetensorsError of `code` whose message matches `pattern`. */
function refuses(open: () => unknown, pattern: RegExp, code = 'SAFETENSORS_INVALID'): void {
  assert.throws(open, (error: unknown) => {
    assert.ok(error instanceof SafetensorsError, String(error));
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  });
}

test('a header is bounded in structure before JSON.parse, and shapes in rank and size', () => {
  const deep = rawFile('deep.safetensors', { t: { dtype: 'F32', shape: [[1]], data_offsets: [0, 4] } }, 4);
  refuses(() => openSafetensors(deep), /deep\.safetensors: header: JSON nested deeper than 3 levels at byte \d+/);

  const entries: Record<string, number> = {};
  for (let i = 0; i <= SAFETENSORS_LIMITS.tensors + 1; i++) entries[`t${i}`] = 0;
  const many = rawFile('many.safetensors', entries, 0);
  refuses(() => openSafetensors(many), /header: more than 131073 entries \(at byte \d+; the limit is 131073\)/);

  const rank = rawFile('rank.safetensors', { t: { dtype: 'F32', shape: Array(9).fill(1), data_offsets: [0, 4] } }, 4);
  refuses(() => openSafetensors(rank), /header: more than 8 items in one array/);

  const overflow = rawFile(
    'overflow.safetensors',
    { t: { dtype: 'F32', shape: [2 ** 30, 2 ** 30, 2 ** 30], data_offsets: [0, 4] } },
    4,
  );
  refuses(
    () => openSafetensors(overflow),
    /tensor t: shape \[1073741824, 1073741824, 1073741824\] has more than 2\^53 bytes/,
  );

  const past = rawFile(
    'past.safetensors',
    { t: { dtype: 'F32', shape: [1], data_offsets: [2 ** 52, 2 ** 52 + 4] } },
    4,
  );
  refuses(
    () => openSafetensors(past),
    /tensor t \(bytes 4503599627370496\.\.4503599627370500 of the data\) runs past the end/,
  );

  refuses(() => openSafetensors(join(dir, 'absent.safetensors')), /cannot open: ENOENT/, 'SAFETENSORS_UNREADABLE');
});

test('an index naming a file outside its directory is refused before any file is opened', () => {
  const sub = mkdtempSync(join(dir, 'escape-'));
  const index = join(sub, 'model.safetensors.index.json');
  for (const file of ['..', '../model.safetensors', '/etc/passwd', 'a\0b', 'x'.repeat(256)]) {
    writeFileSync(index, JSON.stringify({ weight_map: { w: file } }));
    refuses(() => openSafetensors(index), /weight_map entry for w: .* (names a directory|contains|is 256 bytes long)/);
  }
});
