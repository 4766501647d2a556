// Byte-level BPE from GGUF metadata. Expected ids on the small hand-made vocabulary below were produced
// by llama.cpp (node-llama-cpp 3.21.1, vocab-only load of a GGUF with the same tokens and merges).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GgufValueType, type GgufValue } from '../gguf/value.ts';
import { BYTE_ORDER, BYTE_TO_CHAR, fromByteLevel, toByteLevel } from './byte-level.ts';
import { tokenizerFromGguf } from './from-gguf.ts';
import { buildSyntheticBpeVocab } from '../../../test/support/synthetic-vocab.ts';
import type { Tokenizer } from './tokenizer.ts';
import { TokenType } from './vocab-tokenizer.ts';

const strings = (items: readonly string[]): GgufValue => ({ itemType: GgufValueType.STRING, items });
const int32s = (items: ArrayLike<number>): GgufValue => ({ itemType: GgufValueType.INT32, items: Array.from(items) });

function bpeMetadata(
  tokens: readonly string[],
  types: ArrayLike<number>,
  merges: readonly string[],
  pre: string,
): Map<string, GgufValue> {
  return new Map<string, GgufValue>([
    ['tokenizer.ggml.model', 'gpt2'],
    ['tokenizer.ggml.pre', pre],
    ['tokenizer.ggml.tokens', strings(tokens)],
    ['tokenizer.ggml.token_type', int32s(types)],
    ['tokenizer.ggml.merges', strings(merges)],
  ]);
}

/** 256 byte characters (ids 0..255 in GPT-2 order), 14 merged tokens, "Ġxyz" (no merge makes it), 3 control tokens. */
const TINY_MERGES = [
  'Ġ t',
  'h e',
  'Ġt he',
  'i n',
  'Ġ a',
  'in g',
  'Ġ Ġ',
  'Ċ Ċ',
  '1 2',
  '12 3',
  "' s",
  'Ġ c',
  'a t',
  'Ġc at',
];
function tiny(pre: string): Tokenizer {
  const tokens = BYTE_ORDER.map((b) => BYTE_TO_CHAR[b]!);
  tokens.push(
    ...TINY_MERGES.map((m) => m.replace(' ', '')),
    '\u0120xyz',
    '<|endoftext|>',
    '<|im_start|>',
    '<|im_end|>',
  );
  const types = tokens.map((_, id) => (id >= 271 ? TokenType.CONTROL : TokenType.NORMAL));
  const metadata = bpeMetadata(tokens, types, TINY_MERGES, pre);
  metadata.set('tokenizer.ggml.eos_token_id', 271);
  return tokenizerFromGguf(metadata, `tiny-${pre}`);
}

test('byte-level map: printable bytes stand for themselves, space is Ġ, newline Ċ, and it round-trips', () => {
  assert.equal(BYTE_TO_CHAR[0x41], 'A');
  assert.equal(BYTE_TO_CHAR[0x20], '\u0120');
  assert.equal(BYTE_TO_CHAR[0x0a], '\u010a');
  assert.equal(new Set(BYTE_TO_CHAR).size, 256);
  assert.equal(toByteLevel('é!'), '\u00c3\u00a9!');
  assert.equal(new TextDecoder().decode(fromByteLevel(toByteLevel('naïve 🙂\n'))), 'naïve 🙂\n');
});

test('qwen2: ranked merges inside pre-tokenized words, digits one by one, specials whole', () => {
  const tokenizer = tiny('qwen2');
  assert.equal(tokenizer.addBos, false);
  const cases: [string, number[]][] = [
    ["the cat's thing", [83, 257, 269, 266, 256, 71, 261]],
    ['123456', [16, 17, 18, 19, 20, 21]],
    ['a\n\nb', [64, 263, 65]],
    ['  the', [220, 258]],
    ['thething  at', [83, 257, 83, 71, 261, 220, 260, 83]],
    ['é', [127, 102]],
    [' xyz', [220, 87, 88, 89]],
    ['the xyz!', [83, 257, 220, 87, 88, 89, 0]],
    ['x\uFEFFy \u0085z', [87, 171, 119, 123, 88, 220, 126, 227, 89]],
    ['<|im_start|>user\nthe cat<|im_end|>', [272, 84, 82, 68, 81, 198, 83, 257, 269, 273]],
  ];
  for (const [text, expected] of cases) {
    const ids = tokenizer.encode(text);
    assert.deepEqual(ids, expected, JSON.stringify(text));
    if (!text.includes('<|')) assert.equal(tokenizer.decode(ids), text);
  }
  assert.deepEqual(
    tokenizer.encode('<|im_start|>user\nthe cat<|im_end|>', { parseSpecial: false }),
    [
      27, 91, 72, 76, 62, 82, 83, 64, 81, 83, 91, 29, 84, 82, 68, 81, 198, 83, 257, 269, 27, 91, 72, 76, 62, 68, 77, 67,
      91, 29,
    ],
  );
});

test('llama-bpe: digits in threes, whole-word vocabulary entries skip merging, BOS by default', () => {
  const tokenizer = tiny('llama-bpe');
  assert.deepEqual(tokenizer.encode('123456'), [265, 19, 20, 21]);
  assert.deepEqual(tokenizer.encode(' xyz'), [270]);
  assert.deepEqual(tokenizer.encode('the xyz!'), [83, 257, 270, 0]);
  assert.equal(tokenizer.addBos, false, 'no BOS id in the metadata, so nothing to add');
});

test('smollm: digits split one by one and newlines are not merged across the pre-tokenizer', () => {
  const tokenizer = tiny('smollm');
  assert.deepEqual(tokenizer.encode('123456'), [16, 17, 18, 19, 20, 21]);
  assert.deepEqual(tokenizer.encode('a\n\nb'), [64, 198, 198, 65]);
});

test('end of generation: EOS and the well-known end texts; control tokens decode to nothing', () => {
  const tokenizer = tiny('qwen2');
  assert.equal(tokenizer.eosId, 271);
  assert.equal(tokenizer.isEndOfGeneration(271), true);
  assert.equal(tokenizer.isEndOfGeneration(273), true, '<|im_end|>');
  assert.equal(tokenizer.isEndOfGeneration(272), false, '<|im_start|>');
  assert.equal(tokenizer.isEndOfGeneration(258), false);
  assert.equal(tokenizer.decode([272, 258, 273]), ' the');
  assert.equal(tokenizer.tokenText(273), '<|im_end|>');
});

test('an unknown pre-tokenizer or missing merges are refused naming the file', () => {
  const tokens = BYTE_ORDER.map((b) => BYTE_TO_CHAR[b]!);
  const types = tokens.map(() => TokenType.NORMAL);
  assert.throws(() => tokenizerFromGguf(bpeMetadata(tokens, types, [], 'mystery'), 'm.gguf'), /m\.gguf.*"mystery"/);
  const noMerges = bpeMetadata(tokens, types, [], 'qwen2');
  noMerges.delete('tokenizer.ggml.merges');
  assert.throws(() => tokenizerFromGguf(noMerges, 'n.gguf'), /n\.gguf.*merges/);
});

test('a synthetic Qwen2.5-sized vocabulary tokenizes English compactly and round-trips arbitrary text', () => {
  const vocab = buildSyntheticBpeVocab(151936, 42);
  const tokenizer = tokenizerFromGguf(bpeMetadata(vocab.tokens, vocab.tokenTypes, vocab.merges, 'qwen2'), 'synthetic');
  assert.equal(tokenizer.vocabSize, 151936);
  const imEnd = vocab.tokens.indexOf('<|im_end|>');
  assert.deepEqual(tokenizer.encode('<|im_start|>hi<|im_end|>').slice(-1), [imEnd]);
  assert.equal(tokenizer.isEndOfGeneration(imEnd), true);

  const english = 'She was happy because the sun was big and the sky was blue.';
  const count = tokenizer.encode(english).length;
  assert.ok(count <= 16, `common English words are whole tokens (${count} tokens for 13 words)`);

  let seed = 7;
  const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const alphabet = [
    'a',
    'e',
    't',
    ' ',
    ' ',
    '\n',
    '\t',
    '  ',
    'Z',
    '9',
    '12',
    '.',
    ',',
    "'s",
    'é',
    'ß',
    '中',
    '🙂',
    '\u00a0',
    '\r\n',
    '<|',
    '|>',
    '\uFEFF',
  ];
  for (let i = 0; i < 200; i++) {
    let text = '';
    for (let n = Math.floor(random() * 40); n > 0; n--) text += alphabet[Math.floor(random() * alphabet.length)];
    const ids = tokenizer.encode(text, { parseSpecial: false });
    assert.equal(tokenizer.decode(ids), text, JSON.stringify(text));
    const stream = tokenizer.streamDecoder();
    assert.equal(ids.map((id) => stream.push(id)).join('') + stream.flush(), text);
  }
});
