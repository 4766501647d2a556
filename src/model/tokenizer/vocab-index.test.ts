import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSyntheticBpeVocab } from '../../../test/support/synthetic-vocab.ts';
import { ByteLevelBpeModel } from './bpe.ts';
import { ggufPreTokenizer, regexPreTokenizer } from './pre-tokenize.ts';
import { VocabIndex } from './vocab-index.ts';

test('a VocabIndex finds every entry, whole or as part of a longer string, and nothing else', () => {
  const { tokens } = buildSyntheticBpeVocab(4000, 3);
  const index = new VocabIndex(tokens);
  assert.equal(index.hasRepeats, false);
  tokens.forEach((text, id) => {
    assert.equal(index.get(text), id);
    assert.equal(index.findRange(`<${text}>`, 1, text.length + 1), id);
  });
  assert.equal(index.get('not an entry'), undefined);
  assert.equal(index.findRange('xyz', 1, 1), undefined, 'the empty string is no entry here');
});

test('a text listed twice maps to its last id, as a Map would leave it', () => {
  const index = new VocabIndex(['a', 'b', 'a', 'c']);
  assert.equal(index.hasRepeats, true);
  assert.equal(index.get('a'), 2);
  assert.equal(index.get('b'), 1);
});

test('byte-level BPE gives the same pieces whatever order the vocabulary lists its merged entries in', () => {
  // The loader guesses that merge r makes entry r + 256; a shuffled vocabulary defeats every guess and
  // must still tokenize exactly as the trained order does.
  const { tokens, merges } = buildSyntheticBpeVocab(6000, 11);
  const shuffled = [...tokens.slice(0, 256), ...tokens.slice(256).reverse()];
  const preTokenize = regexPreTokenizer(ggufPreTokenizer('qwen2')!.patterns);
  const pieces = (vocabulary: string[]) => {
    const model = new ByteLevelBpeModel({ tokens: vocabulary, merges, preTokenize, ignoreMerges: false });
    const ids: number[] = [];
    model.encodeFragment('Once upon a time, there was a little girl named Lily. Strongest tractions!', true, ids);
    return ids.map((id) => vocabulary[id]);
  };
  const trained = pieces(tokens);
  assert.ok(trained.length < 40, `merges applied: ${trained.length} pieces`);
  assert.deepEqual(pieces(shuffled), trained);
  assert.deepEqual(pieces([...tokens, tokens[300]!]), trained, 'a repeated entry turns guessing off');
});
