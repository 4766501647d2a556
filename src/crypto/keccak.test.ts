import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { hex } from './hash.ts';
import { keccak256 } from './keccak.ts';

// Expected digests from a separate reference (the Keccak team's permutation written out in Python,
// original 0x01 padding); the empty and "abc" ones are the widely published keccak-256 values.
const VECTORS: [string, Uint8Array, string][] = [
  ['the empty string', new Uint8Array(0), 'c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470'],
  ['"abc"', Buffer.from('abc'), '4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45'],
  [
    '200 bytes of 0xa3',
    new Uint8Array(200).fill(0xa3),
    '3a57666b048777f2c953dc4456f45a2588e1cb6f2da760122d530ac2ce607d4a',
  ],
  [
    '1 MiB of (7i + 3) mod 256',
    Uint8Array.from({ length: 1 << 20 }, (_, i) => (7 * i + 3) & 255),
    'f2e34ac5feedafab149d3a2b3ed837fc240cc93748a48dd1cf739c1435b8af77',
  ],
];

for (const [name, input, expected] of VECTORS) {
  test(`keccak-256 of ${name} is the reference digest`, () => {
    assert.equal(hex(keccak256(input)), expected);
  });
}

test('keccak-256 is not NIST SHA3-256 (the padding differs)', () => {
  assert.notEqual(
    hex(keccak256(Buffer.from('abc'))),
    '3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532',
  );
});

test('keccak-256 agrees with @noble/hashes on random inputs of every length around the block edges', () => {
  const lengths = [...Array.from({ length: 300 }, (_, i) => i), 407, 408, 409, 4096, 65_537];
  for (const length of lengths) {
    const input = randomBytes(length);
    // at an odd offset into a larger buffer: the input need not be aligned
    const shifted = new Uint8Array(length + 3).subarray(3);
    shifted.set(input);
    assert.equal(hex(keccak256(shifted)), hex(keccak_256(input)), `length ${length}`);
  }
});

test('keccak-256 of parts is that of their concatenation, however they are cut', () => {
  for (let trial = 0; trial < 200; trial++) {
    const input = randomBytes(Math.floor(Math.random() * 700));
    const cuts = Array.from({ length: Math.floor(Math.random() * 4) }, () =>
      Math.floor(Math.random() * (input.length + 1)),
    ).sort((a, b) => a - b);
    const parts = [0, ...cuts, input.length]
      .slice(1)
      .map((end, i, ends) => input.subarray(i === 0 ? 0 : ends[i - 1]!, end));
    assert.equal(hex(keccak256(...parts)), hex(keccak_256(input)), `cuts ${cuts.join(',')} of ${input.length}`);
  }
});
