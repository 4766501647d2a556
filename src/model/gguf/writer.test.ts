import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { GgmlType } from '../../tensor/ggml-type.ts';
import { openGguf } from './reader.ts';
import { GgufValueType } from './value.ts';
import { GgufMetadataBuilder, writeGguf } from './writer.ts';

const dir = mkdtempSync(join(tmpdir(), 'gguf-writer-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 7) & 0xff;
  return out;
}

test('metadata of every value type and tensors round-trip through openGguf, aligned', () => {
  const path = join(dir, 'all.gguf');
  const metadata = new GgufMetadataBuilder()
    .string('general.architecture', 'llama')
    .u8('t.u8', 255)
    .i8('t.i8', -128)
    .u16('t.u16', 65535)
    .i16('t.i16', -32768)
    .u32('t.u32', 4294967295)
    .i32('t.i32', -2147483648)
    .u64('t.u64', 18446744073709551615n)
    .i64('t.i64', -9223372036854775808n)
    .f32('t.f32', 1e-6)
    .f64('t.f64', Math.PI)
    .bool('t.true', true)
    .bool('t.false', false)
    .string('t.utf8', 'héllo ▁ 世界 <|im_start|>')
    .array('t.strings', GgufValueType.STRING, ['a', '', 'Ġthe', 'Ċ'])
    .array('t.i32s', GgufValueType.INT32, [1, -2, 3])
    .array('t.f32s', GgufValueType.FLOAT32, [0.5, -0.25])
    .array('t.empty', GgufValueType.UINT32, []);
  const f32 = new Float32Array([1, -2, 3.5, 0, 7, 8]);
  const q8 = bytes(2 * 34, 1);
  const chunked = bytes(3 * 34, 2);
  const size = writeGguf(path, {
    metadata,
    tensors: [
      { name: 'a.weight', dims: [3, 2], type: GgmlType.F32, data: new Uint8Array(f32.buffer) },
      { name: 'b.weight', dims: [32, 2], type: GgmlType.Q8_0, data: () => q8 },
      {
        name: 'c.weight',
        dims: [96],
        type: GgmlType.Q8_0,
        data: () => [chunked.subarray(0, 10), chunked.subarray(10, 50), chunked.subarray(50)],
      },
      { name: 'd.bias', dims: [1], type: GgmlType.F16, data: new Uint8Array([0x00, 0x3c]) },
    ],
  });
  assert.equal(size, statSync(path).size);

  const file = openGguf(path);
  try {
    assert.equal(file.version, 3);
    assert.equal(file.alignment, 32);
    const m = file.metadata;
    assert.equal(m.get('general.alignment'), 32);
    assert.equal(m.get('general.architecture'), 'llama');
    assert.equal(m.get('t.u8'), 255);
    assert.equal(m.get('t.i8'), -128);
    assert.equal(m.get('t.u16'), 65535);
    assert.equal(m.get('t.i16'), -32768);
    assert.equal(m.get('t.u32'), 4294967295);
    assert.equal(m.get('t.i32'), -2147483648);
    assert.equal(m.get('t.u64'), 18446744073709551615n);
    assert.equal(m.get('t.i64'), -9223372036854775808n);
    assert.equal(m.get('t.f32'), Math.fround(1e-6));
    assert.equal(m.get('t.f64'), Math.PI);
    assert.equal(m.get('t.true'), true);
    assert.equal(m.get('t.false'), false);
    assert.equal(m.get('t.utf8'), 'héllo ▁ 世界 <|im_start|>');
    assert.deepEqual(m.get('t.strings'), { itemType: GgufValueType.STRING, items: ['a', '', 'Ġthe', 'Ċ'] });
    assert.deepEqual(m.get('t.i32s'), { itemType: GgufValueType.INT32, items: Int32Array.of(1, -2, 3) });
    assert.deepEqual(m.get('t.f32s'), { itemType: GgufValueType.FLOAT32, items: Float32Array.of(0.5, -0.25) });
    assert.deepEqual(m.get('t.empty'), { itemType: GgufValueType.UINT32, items: new Uint32Array(0) });

    assert.deepEqual([...file.tensors.keys()], ['a.weight', 'b.weight', 'c.weight', 'd.bias']);
    for (const info of file.tensors.values()) assert.equal(info.offset % 32, 0, `${info.name} offset ${info.offset}`);
    assert.deepEqual(file.tensors.get('a.weight')!.dims, [3, 2]);
    assert.equal(file.tensors.get('b.weight')!.type, GgmlType.Q8_0);
    assert.deepEqual(new Float32Array(file.readTensor('a.weight').slice().buffer), f32);
    assert.deepEqual(file.readTensor('b.weight'), q8);
    assert.deepEqual(file.readTensor('c.weight'), chunked);
    assert.deepEqual(file.readTensor('d.bias'), new Uint8Array([0x00, 0x3c]));
  } finally {
    file.close();
  }
});

test('a header far larger than the initial buffer round-trips (vocabulary-sized arrays)', () => {
  const path = join(dir, 'big-header.gguf');
  const tokens = Array.from({ length: 40_000 }, (_, i) => `tok${i}`);
  const ids = Array.from({ length: 40_000 }, (_, i) => i * 3 - 7);
  writeGguf(path, {
    metadata: new GgufMetadataBuilder()
      .array('t.tokens', GgufValueType.STRING, tokens)
      .array('t.ids', GgufValueType.INT32, ids)
      .u64('t.after', 7n),
    tensors: [{ name: 'w', dims: [2], type: GgmlType.F32, data: new Uint8Array(8).fill(1) }],
  });
  const file = openGguf(path);
  try {
    assert.deepEqual(file.metadata.get('t.tokens'), { itemType: GgufValueType.STRING, items: tokens });
    assert.deepEqual(file.metadata.get('t.ids'), { itemType: GgufValueType.INT32, items: Int32Array.from(ids) });
    assert.equal(file.metadata.get('t.after'), 7n);
    assert.deepEqual(file.readTensor('w'), new Uint8Array(8).fill(1));
  } finally {
    file.close();
  }
});

test('plain entry lists are accepted as metadata', () => {
  const path = join(dir, 'plain.gguf');
  writeGguf(path, { metadata: [{ key: 'x', type: GgufValueType.STRING, value: 'y' }], tensors: [] });
  const file = openGguf(path);
  assert.equal(file.metadata.get('x'), 'y');
  assert.equal(file.tensors.size, 0);
  file.close();
});

test('bad input fails naming the file and the problem, leaving no file behind', () => {
  const path = join(dir, 'bad.gguf');
  const cases: [Parameters<typeof writeGguf>[1], RegExp][] = [
    [
      { metadata: [], tensors: [{ name: 'w', dims: [4], type: GgmlType.F32, data: new Uint8Array(15) }] },
      /tensor w needs 16 bytes of F32, data has 15/,
    ],
    [
      { metadata: [], tensors: [{ name: 'w', dims: [4], type: GgmlType.F32, data: () => new Uint8Array(20) }] },
      /tensor w needs 16 bytes of F32, its data produced more/,
    ],
    [
      { metadata: [], tensors: [{ name: 'w', dims: [4], type: GgmlType.F32, data: () => [new Uint8Array(8)] }] },
      /tensor w needs 16 bytes of F32, its data produced 8/,
    ],
    [
      { metadata: [], tensors: [{ name: 'w', dims: [48, 2], type: GgmlType.Q8_0, data: new Uint8Array(102) }] },
      /tensor w \[48, 2\]: Q8_0 needs a multiple of 32 elements, got 48/,
    ],
    [
      { metadata: [], tensors: [{ name: 'w', dims: [1], type: 3 as GgmlType, data: new Uint8Array(1) }] },
      /tensor w has type Q4_1/,
    ],
    [
      { metadata: [], tensors: [{ name: 'w', dims: [0], type: GgmlType.F32, data: new Uint8Array(0) }] },
      /tensor w has dimensions \[0\]/,
    ],
    [
      { metadata: new GgufMetadataBuilder().u8('k', 256), tensors: [] },
      /metadata k: expected an integer in \[0, 255\], got number 256/,
    ],
    [{ metadata: new GgufMetadataBuilder().u32('k', 1).u32('k', 2), tensors: [] }, /metadata k appears twice/],
    [
      { metadata: new GgufMetadataBuilder().u32('general.alignment', 64), tensors: [] },
      /general.alignment must be the u32 32/,
    ],
    [
      { metadata: [{ key: 'k', type: GgufValueType.STRING, value: 3 }], tensors: [] },
      /metadata k: expected a string, got number 3/,
    ],
  ];
  for (const [spec, message] of cases) {
    assert.throws(
      () => writeGguf(path, spec),
      (error: Error) => {
        assert.ok(error.message.startsWith(`${path}: `), error.message);
        assert.match(error.message, message);
        return true;
      },
    );
  }
  assert.equal(existsSync(path), false);
  assert.deepEqual(
    readdirSync(dir).filter((name) => name.includes('partial')),
    [],
  );
});
