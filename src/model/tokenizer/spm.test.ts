// SentencePiece-style tokenization of a GGUF vocabulary. Expected ids were produced by llama.cpp
// (node-llama-cpp 3.21.1, vocab-only load, tokenize without BOS) on the same file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testModel } from '../../../test/support/models.ts';
import { openGguf } from '../gguf/reader.ts';
import { GgufValueType, type GgufValue } from '../gguf/value.ts';
import { tokenizerFromGguf } from './from-gguf.ts';
import { buildSyntheticSpmVocab } from '../../../test/support/synthetic-vocab.ts';
import type { Tokenizer } from './tokenizer.ts';

function stories(): Tokenizer {
  const file = openGguf(testModel('stories260K.gguf'));
  try {
    return tokenizerFromGguf(file.metadata, file.path);
  } finally {
    file.close();
  }
}

test('stories260K: "Once upon a time" gets BOS, a leading space and merges by score', () => {
  const tokenizer = stories();
  assert.equal(tokenizer.vocabSize, 512);
  assert.equal(tokenizer.addBos, true);
  assert.equal(tokenizer.bosId, 1);
  assert.equal(tokenizer.eosId, 2);
  const ids = tokenizer.encode('Once upon a time');
  assert.deepEqual(ids, [1, 403, 407, 261, 378]);
  assert.equal(tokenizer.tokenText(403), '\u2581Once');
  assert.equal(tokenizer.decode(ids), 'Once upon a time');
  assert.deepEqual(tokenizer.encode('Once upon a time', { addBos: false }), [403, 407, 261, 378]);
});

test('stories260K: byte fallback for characters outside the vocabulary, newlines, tabs and runs of spaces', () => {
  const tokenizer = stories();
  const cases: [string, number[]][] = [
    ['héllo wörld\nnew line', [270, 485, 306, 414, 263, 198, 185, 420, 341, 13, 416, 411, 424, 278, 271, 411]],
    [
      'Hello, World!\n\n  indented\ttab',
      [346, 306, 414, 432, 410, 448, 304, 341, 443, 13, 13, 410, 410, 417, 264, 377, 266, 12, 413, 412, 430],
    ],
    ['café 日本 🙂', [280, 412, 431, 485, 410, 233, 154, 168, 233, 159, 175, 410, 243, 162, 156, 133]],
    ['  two  spaces', [410, 410, 259, 424, 414, 410, 262, 427, 412, 331, 419]],
    ['Lily and Ben were friends.', [317, 269, 368, 302, 382, 276, 374, 419, 426]],
  ];
  for (const [text, expected] of cases) {
    const ids = tokenizer.encode(text, { addBos: false });
    assert.deepEqual(ids, expected, text);
    assert.equal(tokenizer.decode(ids), text);
    assert.equal(tokenizer.decode([1, ...ids]), text, 'the space after BOS is stripped too');
  }
});

test('stories260K: special tokens in the text are parsed only when asked, and each following fragment gets a space', () => {
  const tokenizer = stories();
  assert.deepEqual(tokenizer.encode('<s>x</s>', { addBos: false }), [1, 410, 444, 2]);
  assert.deepEqual(
    tokenizer.encode('<s>x</s>', { addBos: false, parseSpecial: false }),
    [410, 504, 419, 505, 444, 504, 492, 419, 505],
  );
  assert.deepEqual(tokenizer.encode('<unk>', { addBos: false }), [0]);
  assert.deepEqual(tokenizer.encode(''), [1]);
  assert.deepEqual(tokenizer.encode('', { addBos: false }), []);
});

test('stories260K: the stream decoder holds back partial UTF-8 and keeps leading spaces', () => {
  const tokenizer = stories();
  const ids = tokenizer.encode('café 日本 🙂 end', { addBos: false });
  const stream = tokenizer.streamDecoder();
  const chunks = ids.map((id) => stream.push(id));
  chunks.push(stream.flush());
  for (const chunk of chunks)
    assert.ok(!chunk.includes('\uFFFD'), `chunk ${JSON.stringify(chunk)} has a broken character`);
  assert.equal(chunks.join(''), ' café 日本 🙂 end');
  // The emoji's four byte tokens produce nothing until the last one.
  const emoji = [243, 162, 156, 133];
  const second = tokenizer.streamDecoder();
  assert.deepEqual(
    emoji.map((id) => second.push(id)),
    ['', '', '', '🙂'],
  );
  assert.equal(second.push(243), '', 'the lead byte of another four-byte character waits');
  assert.equal(second.flush(), '\uFFFD', 'an incomplete character left at the end is flushed as a replacement');
});

test('stories260K: peek gives what push would, leaving the stream as it was', () => {
  const tokenizer = stories();
  const stream = tokenizer.streamDecoder();
  assert.equal(tokenizer.tokenText(403), '\u2581Once');
  assert.equal(stream.peek(403), ' Once', 'a word-start token decodes with its space');
  assert.equal(stream.push(403), ' Once');
  const emoji = [243, 162, 156, 133];
  for (const id of emoji.slice(0, 3)) stream.push(id);
  assert.equal(stream.peek(133), '🙂', "the held bytes are the alternative's context too");
  assert.equal(stream.peek(403), '\uFFFD Once', 'a token that breaks the held character');
  assert.equal(stream.push(133), '🙂');
});

test('stories260K: end of generation is EOS (</s>), not BOS or text', () => {
  const tokenizer = stories();
  assert.equal(tokenizer.isEndOfGeneration(2), true);
  assert.equal(tokenizer.isEndOfGeneration(1), false);
  assert.equal(tokenizer.isEndOfGeneration(403), false);
  assert.equal(tokenizer.decode([403, 2]), 'Once', 'control tokens render as nothing');
});

test('an unknown tokenizer.ggml.model is refused with the model type and the file', () => {
  const metadata = new Map<string, GgufValue>([
    ['tokenizer.ggml.model', 'bert'],
    ['tokenizer.ggml.tokens', { itemType: GgufValueType.STRING, items: ['[PAD]', 'a'] }],
  ]);
  assert.throws(() => tokenizerFromGguf(metadata, '/models/x.gguf'), /\/models\/x\.gguf.*"bert"/);
  assert.throws(() => tokenizerFromGguf(new Map(), '/models/y.gguf'), /\/models\/y\.gguf.*tokenizer\.ggml\.model/);
});

test('a synthetic SentencePiece vocabulary has the exact size and round-trips any text', () => {
  const vocab = buildSyntheticSpmVocab(8000, 5);
  assert.equal(vocab.tokens.length, 8000);
  assert.equal(vocab.scores.length, 8000);
  assert.equal(new Set(vocab.tokens).size, 8000, 'entries are unique');
  const metadata = new Map<string, GgufValue>([
    ['tokenizer.ggml.model', 'llama'],
    ['tokenizer.ggml.tokens', { itemType: GgufValueType.STRING, items: vocab.tokens }],
    ['tokenizer.ggml.scores', { itemType: GgufValueType.FLOAT32, items: Array.from(vocab.scores) }],
    ['tokenizer.ggml.token_type', { itemType: GgufValueType.INT32, items: Array.from(vocab.tokenTypes) }],
  ]);
  const tokenizer = tokenizerFromGguf(metadata, 'synthetic');
  const text = 'The little girl went to the park with her mom. Ünïcödé, 中文, emoji 👍🏽 and\ttabs\n\nnew  lines.';
  const ids = tokenizer.encode(text);
  assert.equal(ids[0], 1);
  assert.equal(tokenizer.decode(ids), text);
  const english = 'She was happy because the sun was big and the sky was blue.';
  const count = tokenizer.encode(english, { addBos: false }).length;
  assert.ok(count <= 16, `common English words are whole tokens (${count} tokens for 13 words)`);
});
