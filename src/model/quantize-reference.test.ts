// Our Q8_0 quantizer against llama.cpp's own output: stories260K-q8_0.gguf was made from
// stories260K.gguf by llama-quantize, so quantizing the f32 tensors must give the same bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GgmlType } from '../tensor/ggml-type.ts';
import { quantize } from '../tensor/quantize.ts';
import { openGguf } from './gguf/reader.ts';
import { testModel } from '../../test/support/models.ts';

test('Q8_0 quantization reproduces llama-quantize byte for byte on every Q8_0 tensor of stories260K', () => {
  const f32 = openGguf(testModel('stories260K.gguf'));
  const q8 = openGguf(testModel('stories260K-q8_0.gguf'));
  try {
    let compared = 0;
    for (const info of q8.tensors.values()) {
      if (info.type !== GgmlType.Q8_0) continue;
      const source = f32.readTensor(info.name);
      const values = new Float32Array(source.buffer, source.byteOffset, source.byteLength / 4);
      const ours = quantize(GgmlType.Q8_0, values);
      assert.ok(Buffer.from(ours).equals(Buffer.from(q8.readTensor(info.name))), `${info.name} differs`);
      compared++;
    }
    assert.equal(compared, 32);
  } finally {
    f32.close();
    q8.close();
  }
});
