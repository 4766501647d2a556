import { test } from 'node:test';
import assert from 'node:assert/strict';
import { incompleteTail, Utf8Stream } from './utf8-stream.ts';

/** A deterministic byte generator biased toward UTF-8 lead and continuation bytes. */
function* randomBytes(seed: number): Generator<number> {
  let state = seed >>> 0 || 1;
  const interesting = [0x41, 0x20, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xe2, 0xed, 0xef];
  const more = [0xf0, 0xf1, 0xf4, 0xf5, 0xff, 0xef, 0xbb, 0xbf];
  for (;;) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const r = state >>> 0;
    yield r % 4 === 0 ? r % 256 : [...interesting, ...more][(r >>> 8) % (interesting.length + more.length)]!;
  }
}

test('Utf8Stream decodes chunked bytes exactly as a streaming TextDecoder does, invalid bytes and a BOM included', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const bytes = randomBytes(seed);
    const reference = new TextDecoder('utf-8', { ignoreBOM: true });
    const stream = new Utf8Stream();
    for (let chunkIndex = 0; chunkIndex < 40; chunkIndex++) {
      const size = (bytes.next().value % 4) + 1;
      const chunk = Uint8Array.from({ length: size }, () => bytes.next().value);
      const peeked = stream.peek(chunk);
      const expected = reference.decode(chunk, { stream: true });
      assert.equal(peeked, expected, `seed ${seed}, chunk ${chunkIndex}: peek`);
      assert.equal(stream.push(chunk), expected, `seed ${seed}, chunk ${chunkIndex}: push`);
    }
    assert.equal(stream.flush(), reference.decode(), `seed ${seed}: flush`);
  }
});

test('peek leaves the stream as it was: an alternative byte completes the held character differently', () => {
  const stream = new Utf8Stream();
  assert.equal(stream.push(Uint8Array.of(0xe2, 0x82)), '');
  assert.equal(stream.peek(Uint8Array.of(0xac)), '€');
  assert.equal(stream.peek(Uint8Array.of(0x41)), '\uFFFDA');
  assert.equal(stream.push(Uint8Array.of(0xac)), '€');
});

test('incompleteTail counts only a valid, unfinished character at the end', () => {
  assert.equal(incompleteTail(Uint8Array.of(0x41, 0xf0, 0x9f, 0x98)), 3);
  assert.equal(incompleteTail(Uint8Array.of(0xe2, 0x82, 0xac)), 0);
  assert.equal(incompleteTail(Uint8Array.of(0xe0, 0x80)), 0, 'E0 80 is no start of a character');
  assert.equal(incompleteTail(Uint8Array.of(0xc3)), 1);
  assert.equal(incompleteTail(Uint8Array.of(0xc3, 0xa9, 0x80)), 0);
  assert.equal(incompleteTail(new Uint8Array(0)), 0);
});
