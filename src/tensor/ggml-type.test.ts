import { test } from 'node:test';
import assert from 'node:assert/strict';
import { byteSize, GgmlType, ggmlTypeName, isSupportedType } from './ggml-type.ts';

test('byteSize counts whole blocks', () => {
  assert.equal(byteSize(GgmlType.Q8_0, 64), 68);
  assert.equal(byteSize(GgmlType.Q4_K, 512), 288);
  assert.throws(() => byteSize(GgmlType.Q6_K, 100), /Q6_K needs a multiple of 256/);
});

test('unsupported types are named', () => {
  assert.equal(isSupportedType(13), false);
  assert.equal(ggmlTypeName(13), 'Q5_K');
});
