import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ggufPreTokenizer, hfPatternToJs, LLAMA3_PATTERN, QWEN2_PATTERN, regexPreTokenizer } from './pre-tokenize.ts';

test('qwen2 and llama3 patterns: contractions in any case, digits one by one or in threes, newline runs', () => {
  const text = "I'M here, they'LL pay 12345.\n\n  ok";
  assert.deepEqual(regexPreTokenizer([QWEN2_PATTERN])(text), [
    'I',
    "'M",
    ' here',
    ',',
    ' they',
    "'LL",
    ' pay',
    ' ',
    '1',
    '2',
    '3',
    '4',
    '5',
    '.\n\n',
    ' ',
    ' ok',
  ]);
  assert.deepEqual(regexPreTokenizer([LLAMA3_PATTERN])(text), [
    'I',
    "'M",
    ' here',
    ',',
    ' they',
    "'LL",
    ' pay',
    ' ',
    '123',
    '45',
    '.\n\n',
    ' ',
    ' ok',
  ]);
});

test('whitespace is Unicode White_Space as in llama.cpp: U+0085 is, U+FEFF is not', () => {
  const split = regexPreTokenizer([QWEN2_PATTERN]);
  assert.deepEqual(split('a\u0085b'), ['a', '\u0085b']);
  assert.deepEqual(split('a \uFEFFb'), ['a', ' \uFEFF', 'b']);
});

test('smollm: digits are isolated first, then the GPT-2 pattern runs on each piece', () => {
  const smollm = ggufPreTokenizer('smollm')!;
  assert.deepEqual(regexPreTokenizer(smollm.patterns)('abc 123x'), ['abc', ' ', '1', '2', '3', 'x']);
  assert.equal(ggufPreTokenizer('qwen2')!.addBos, false);
  assert.equal(ggufPreTokenizer('llama-bpe')!.ignoreMerges, true);
  assert.deepEqual(ggufPreTokenizer(undefined)!.patterns, ggufPreTokenizer('default')!.patterns);
  assert.equal(ggufPreTokenizer('no-such-thing'), undefined);
});

test('Hugging Face patterns: case-insensitive groups spelled out, possessive quantifiers made greedy', () => {
  assert.equal(hfPatternToJs("(?i:'s|'ll)|\\p{L}+"), "(?:'[sS]|'[lL][lL])|\\p{L}+");
  assert.equal(hfPatternToJs("'(?i:[sd]|ll)"), "'(?:[sSdD]|[lL][lL])");
  assert.equal(hfPatternToJs('[^\\s\\p{L}]?+\\p{N}++x{2}+'), '[^\\s\\p{L}]?\\p{N}+x{2}');
  assert.equal(hfPatternToJs('\\++[+?]+a+?'), '\\++[+?]+a+?', 'escaped and class characters are not quantifiers');
  assert.throws(() => hfPatternToJs('(?i:(a))'), /too complex/);
});
