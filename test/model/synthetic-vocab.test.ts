import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BYTE_TO_CHAR } from '../../src/model/tokenizer/byte-level.ts';
import {
  buildSyntheticBpeVocab,
  buildSyntheticSpmVocab,
  SYNTHETIC_BPE_CONTROL_TOKENS,
} from '../support/synthetic-vocab.ts';
import { TokenType } from '../../src/model/tokenizer/vocab-tokenizer.ts';

test('synthetic byte-level vocabularies have the exact real sizes and are valid for llama.cpp', () => {
  for (const size of [151936, 49152]) {
    const { tokens, tokenTypes, merges } = buildSyntheticBpeVocab(size, 1);
    assert.equal(tokens.length, size);
    assert.equal(tokenTypes.length, size);
    assert.equal(new Set(tokens).size, size, 'entries are unique');
    assert.deepEqual(
      new Set(tokens.slice(0, 256)),
      new Set(BYTE_TO_CHAR),
      'the first 256 entries are the byte characters',
    );
    assert.deepEqual(tokens.slice(-3), SYNTHETIC_BPE_CONTROL_TOKENS);
    assert.deepEqual(Array.from(tokenTypes.slice(-3)), [TokenType.CONTROL, TokenType.CONTROL, TokenType.CONTROL]);
    assert.ok(tokenTypes.slice(0, -3).every((t) => t === TokenType.NORMAL));
    assert.equal(merges.length, size - 256 - 3, 'one merge per merged entry');
    const index = new Map(tokens.map((t, id) => [t, id]));
    merges.forEach((merge, rank) => {
      const [left, right, ...rest] = merge.split(' ');
      assert.equal(rest.length, 0, merge);
      // llama.cpp needs both parts and the result in the vocabulary; the result is entry 256 + rank.
      assert.ok(index.get(left!)! < 256 + rank && index.get(right!)! < 256 + rank, merge);
      assert.equal(index.get(left! + right!), 256 + rank, merge);
    });
  }
});

test('synthetic vocabularies are deterministic in the seed', () => {
  assert.deepEqual(buildSyntheticBpeVocab(8000, 9), buildSyntheticBpeVocab(8000, 9));
  assert.notDeepEqual(buildSyntheticBpeVocab(8000, 9).tokens, buildSyntheticBpeVocab(8000, 10).tokens);
  assert.deepEqual(buildSyntheticSpmVocab(3000, 9), buildSyntheticSpmVocab(3000, 9));
  assert.throws(() => buildSyntheticBpeVocab(100, 1), /at least 259/);
});

test('synthetic SentencePiece vocabulary: <unk>, <s>, </s>, byte tokens, pieces with falling scores', () => {
  const { tokens, scores, tokenTypes } = buildSyntheticSpmVocab(32000, 1);
  assert.equal(tokens.length, 32000);
  assert.deepEqual(tokens.slice(0, 4), ['<unk>', '<s>', '</s>', '<0x00>']);
  assert.equal(tokens[258], '<0xFF>');
  assert.deepEqual(Array.from(tokenTypes.slice(0, 4)), [
    TokenType.UNKNOWN,
    TokenType.CONTROL,
    TokenType.CONTROL,
    TokenType.BYTE,
  ]);
  assert.equal(new Set(tokens).size, 32000);
  for (let id = 260; id < 32000; id++) assert.ok(scores[id]! < scores[id - 1]!);
  assert.ok(tokens.includes('\u2581the'));
});
