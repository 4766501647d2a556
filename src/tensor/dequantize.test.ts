import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dequantize } from './dequantize.ts';
import { GgmlType } from './ggml-type.ts';

// Every block below is written byte by byte; expected values come from the numbers that were
// packed, never from decoding the bytes.

test('F32, F16 and BF16', () => {
  const f32 = new Uint8Array([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc1]);
  assert.deepEqual([...dequantize(GgmlType.F32, f32, 2)], [1, -10]);
  // Unaligned source bytes still read correctly.
  const shifted = new Uint8Array(9);
  shifted.set(f32, 1);
  assert.deepEqual([...dequantize(GgmlType.F32, shifted.subarray(1), 2)], [1, -10]);
  const f16 = new Uint8Array([0x00, 0x3c, 0x00, 0xc5, 0x01, 0x00, 0xff, 0x7b]);
  assert.deepEqual([...dequantize(GgmlType.F16, f16, 4)], [1, -5, 2 ** -24, 65504]);
  const bf16 = new Uint8Array([0x80, 0x3f, 0x20, 0xc1, 0x49, 0x40]);
  assert.deepEqual([...dequantize(GgmlType.BF16, bf16, 3)], [1, -10, 3.140625]);
});

test('Q8_0: f16 scale then 32 int8', () => {
  const qs = Array.from({ length: 32 }, (_, j) => j * 9 - 128); // -128 .. 151 wrapped below
  const block = (d: [number, number]): number[] => [...d, ...qs.map((q) => q & 0xff)];
  // d = -0.25 (0xb400) and d = 2 (0x4000)
  const bytes = new Uint8Array([...block([0x00, 0xb4]), ...block([0x00, 0x40])]);
  const out = dequantize(GgmlType.Q8_0, bytes, 64);
  for (let j = 0; j < 32; j++) {
    const q = qs[j]! > 127 ? qs[j]! - 256 : qs[j]!;
    assert.equal(out[j], q * -0.25);
    assert.equal(out[32 + j], q * 2);
  }
  assert.equal(out[0], 32);
  assert.equal(out[63], (151 - 256) * 2);
});

test('Q4_0: byte j holds elements j (low nibble) and j+16 (high nibble), offset 8', () => {
  const qs = [0x0f, 0x80, 0x12, 0xf0, 0x00, 0xff, 0x37, 0xa5, 0x5a, 0x19, 0x91, 0x44, 0xc3, 0x3c, 0x08, 0x6e];
  const bytes = new Uint8Array([0x00, 0x40, ...qs]); // d = 2
  const out = dequantize(GgmlType.Q4_0, bytes, 32);
  const low = [15, 0, 2, 0, 0, 15, 7, 5, 10, 9, 1, 4, 3, 12, 8, 14];
  const high = [0, 8, 1, 15, 0, 15, 3, 10, 5, 1, 9, 4, 12, 3, 0, 6];
  for (let j = 0; j < 16; j++) {
    assert.equal(out[j], (low[j]! - 8) * 2);
    assert.equal(out[j + 16], (high[j]! - 8) * 2);
  }
});

test('Q4_K: packed 6-bit scales and mins, 4-bit quants in 32-byte chunks', () => {
  const scales = [1, 10, 33, 63, 17, 40, 5, 58];
  const mins = [2, 0, 63, 7, 50, 3, 36, 21];
  // Bytes 0-3: scale j low 6 bits, top 2 bits = bits 4-5 of scale j+4.
  // Bytes 4-7: min j low 6 bits, top 2 bits = bits 4-5 of min j+4.
  // Bytes 8-11: low nibble = scale j+4 & 15, high nibble = min j+4 & 15.
  const packed = [0x41, 0x8a, 0x21, 0xff, 0xc2, 0x00, 0xbf, 0x47, 0x21, 0x38, 0x45, 0x5a];
  const qs = Array.from({ length: 128 }, (_, i) => (i * 37 + 11) & 0xff);
  // Block 0: d = 0.5 (0x3800), dmin = 0.25 (0x3400). Block 1: d = 1 (0x3c00), dmin = 2 (0x4000).
  const bytes = new Uint8Array([0x00, 0x38, 0x00, 0x34, ...packed, ...qs, 0x00, 0x3c, 0x00, 0x40, ...packed, ...qs]);
  const out = dequantize(GgmlType.Q4_K, bytes, 512);
  for (const [block, d, dmin] of [
    [0, 0.5, 0.25],
    [1, 1, 2],
  ] as const) {
    for (let e = 0; e < 256; e++) {
      const chunk = e >> 6,
        within = e & 63;
      const sub = 2 * chunk + (within >= 32 ? 1 : 0);
      const byte = qs[32 * chunk + (within & 31)]!;
      const q = within < 32 ? byte & 15 : byte >> 4;
      assert.equal(out[256 * block + e], d * scales[sub]! * q - dmin * mins[sub]!, `block ${block} element ${e}`);
    }
  }
  // qs[96] = (96*37+11)&255 = 235 = 0xeb. Element 192 is sub-block 6 (scale 5, min 36) and takes
  // its low nibble 11; element 224 is sub-block 7 (scale 58, min 21) and takes its high nibble 14.
  assert.equal(out[192], 0.5 * 5 * 11 - 0.25 * 36);
  assert.equal(out[224], 0.5 * 58 * 14 - 0.25 * 21);
});

test('Q6_K: ql/qh split, int8 scales per 16, offset 32', () => {
  const ql = Array.from({ length: 128 }, (_, i) => (i * 29 + 3) & 0xff);
  const qh = Array.from({ length: 64 }, (_, i) => (i * 53 + 7) & 0xff);
  const scales = [1, -2, 3, -4, 5, -6, 7, -8, 127, -128, 16, -16, 0, 9, -9, 2];
  const bytes = new Uint8Array([...ql, ...qh, ...scales.map((s) => s & 0xff), 0x00, 0x38]); // d = 0.5
  const out = dequantize(GgmlType.Q6_K, bytes, 256);
  for (let e = 0; e < 256; e++) {
    const half = e >> 7,
      quarter = (e & 127) >> 5,
      l = e & 31;
    const lowByte = ql[64 * half + l + (quarter & 1 ? 32 : 0)]!;
    const low = quarter < 2 ? lowByte & 15 : lowByte >> 4;
    const high = (qh[32 * half + l]! >> (2 * quarter)) & 3;
    const scale = scales[8 * half + (l >> 4) + 2 * quarter]!;
    assert.equal(out[e], 0.5 * scale * ((low | (high << 4)) - 32), `element ${e}`);
  }
  // Element 200: half 1, quarter 2, l 8 -> ql[72] = 0x2b high nibble 2, qh[40] = 0x4f bits 4-5 = 0,
  // q = 2 - 32 = -30, scale index 8 + 0 + 4 = 12, whose scale is 0 (so the product is -0).
  assert.equal(out[200], -0);
  // Element 137: half 1, quarter 0, l 9 -> ql[73] = 0x48 low nibble 8, qh[41] = 0x84 bits 0-1 = 0,
  // q = 8 - 32 = -24, scale index 8 -> 127.
  assert.equal(out[137], 0.5 * 127 * -24);
  // Element 233: half 1, quarter 3, l 9 -> ql[105] = 0xe4 high nibble 14, qh[41] bits 6-7 = 2,
  // q = 14 + 32 - 32 = 14, scale index 8 + 0 + 6 = 14 -> -9.
  assert.equal(out[233], 0.5 * -9 * 14);
});

test('rejects short input and partial blocks', () => {
  assert.throws(() => dequantize(GgmlType.Q8_0, new Uint8Array(33), 32), /need 34 bytes/);
  assert.throws(() => dequantize(GgmlType.Q4_K, new Uint8Array(144), 100), /multiple of 256/);
});
