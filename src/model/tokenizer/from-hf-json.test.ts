// tokenizer.json files written here from vocabularies whose GGUF tokenization is checked elsewhere
// (stories260K, synthetic byte-level ones): the Hugging Face path must give the same ids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testModel } from '../../../test/support/models.ts';
import { openGguf } from '../gguf/reader.ts';
import { GgufValueType, MetadataView, type GgufValue } from '../gguf/value.ts';
import { tokenizerFromGguf } from './from-gguf.ts';
import { tokenizerFromHfJson } from './from-hf-json.ts';
import { buildSyntheticBpeVocab } from '../../../test/support/synthetic-vocab.ts';
import type { Tokenizer } from './tokenizer.ts';
import { TokenType } from './vocab-tokenizer.ts';

const TEXTS = [
  'Once upon a time',
  'The quick brown fox jumps over the lazy dog.',
  '  two  spaces and a trailing one ',
  'héllo wörld\nnew line\n\n\ttab',
  "It's 2024: we'll see 12345 things!",
  'café 日本 🙂',
  '',
  ' ',
  '\n',
];

function storiesGguf(): { tokenizer: Tokenizer; meta: MetadataView } {
  const file = openGguf(testModel('stories260K.gguf'));
  try {
    const meta = new MetadataView(file.metadata, file.path);
    return { tokenizer: tokenizerFromGguf(meta, file.path), meta };
  } finally {
    file.close();
  }
}

/** Llama 2 layout: BPE with byte fallback, merges ranked by the merged piece's score. */
function spmTokenizerJson(meta: MetadataView, layout: 'llama2' | 'metaspace'): unknown {
  const tokens = meta.array('tokenizer.ggml.tokens') as string[];
  const scores = meta.array('tokenizer.ggml.scores') as number[];
  const types = meta.array('tokenizer.ggml.token_type') as number[];
  const vocab = Object.fromEntries(tokens.map((t, id) => [t, id]));
  const merges: { pair: string; score: number; left: number; right: number }[] = [];
  tokens.forEach((token, id) => {
    if (types[id] !== TokenType.NORMAL) return;
    const chars = [...token];
    for (let cut = 1; cut < chars.length; cut++) {
      const left = chars.slice(0, cut).join('');
      const right = chars.slice(cut).join('');
      if (left in vocab && right in vocab)
        merges.push({ pair: `${left} ${right}`, score: scores[id]!, left: vocab[left]!, right: vocab[right]! });
    }
  });
  merges.sort((a, b) => b.score - a.score || a.left - b.left || a.right - b.right);
  const specials = [0, 1, 2].map((id) => ({
    id,
    content: tokens[id],
    special: true,
    lstrip: false,
    rstrip: false,
    normalized: false,
    single_word: false,
  }));
  return {
    version: '1.0',
    added_tokens: specials,
    normalizer:
      layout === 'llama2'
        ? {
            type: 'Sequence',
            normalizers: [
              { type: 'Prepend', prepend: '\u2581' },
              { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' },
            ],
          }
        : null,
    pre_tokenizer:
      layout === 'metaspace'
        ? { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first', split: false }
        : null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '\u2581' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      merges: merges.map((m) => m.pair),
    },
  };
}

test('stories260K exported as a Llama 2 style tokenizer.json gives the GGUF ids, BOS included', () => {
  const { tokenizer: gguf, meta } = storiesGguf();
  const hf = tokenizerFromHfJson(spmTokenizerJson(meta, 'llama2'));
  assert.equal(hf.vocabSize, 512);
  assert.equal(hf.addBos, true);
  assert.equal(hf.bosId, 1);
  assert.deepEqual(hf.encode('Once upon a time'), [1, 403, 407, 261, 378]);
  for (const text of [...TEXTS, '<s>x</s>']) {
    const ids = hf.encode(text);
    assert.deepEqual(ids, gguf.encode(text), JSON.stringify(text));
    if (!text.includes('<')) assert.equal(hf.decode(ids), text);
  }
  assert.equal(hf.isEndOfGeneration(2), true, '</s> ends generation');
});

test('a Metaspace pre-tokenizer (prepend_scheme first) tokenizes like SentencePiece, except after specials', () => {
  const { tokenizer: gguf, meta } = storiesGguf();
  const hf = tokenizerFromHfJson(spmTokenizerJson(meta, 'metaspace'));
  for (const text of TEXTS.filter((t) => !t.startsWith(' '))) {
    assert.deepEqual(hf.encode(text), gguf.encode(text), JSON.stringify(text));
    assert.equal(hf.decode(hf.encode(text)), text);
  }
  // Hugging Face prepends '▁' only at the very start and only when the text does not begin with one.
  assert.deepEqual(hf.encode('<s>x'), [1, 1, 444]);
  assert.deepEqual(gguf.encode('<s>x'), [1, 1, 410, 444]);
  assert.deepEqual(hf.encode(' x', { addBos: false }), [410, 444]);
});

const QWEN2_SPLIT = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const LLAMA3_SPLIT = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const BYTE_LEVEL = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };

interface Layout {
  readonly pre: string;
  readonly extraSpecials: readonly string[];
  readonly json: (base: Record<string, unknown>, ids: Record<string, number>) => Record<string, unknown>;
}

const LAYOUTS: Record<string, Layout> = {
  qwen2: {
    pre: 'qwen2',
    extraSpecials: [],
    json: (base) => ({
      ...base,
      normalizer: { type: 'NFC' },
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: QWEN2_SPLIT }, behavior: 'Isolated', invert: false },
          BYTE_LEVEL,
        ],
      },
      post_processor: BYTE_LEVEL,
    }),
  },
  llama3: {
    pre: 'llama-bpe',
    extraSpecials: ['<|begin_of_text|>', '<|end_of_text|>', '<|eot_id|>'],
    json: (base, ids) => ({
      ...base,
      normalizer: null,
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: LLAMA3_SPLIT }, behavior: 'Isolated', invert: false },
          BYTE_LEVEL,
        ],
      },
      post_processor: {
        type: 'Sequence',
        processors: [
          BYTE_LEVEL,
          {
            type: 'TemplateProcessing',
            single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
            pair: [],
            special_tokens: {
              '<|begin_of_text|>': {
                id: '<|begin_of_text|>',
                ids: [ids['<|begin_of_text|>']],
                tokens: ['<|begin_of_text|>'],
              },
            },
          },
        ],
      },
      model: { ...(base.model as object), ignore_merges: true },
    }),
  },
  smollm: {
    pre: 'smollm',
    extraSpecials: [],
    json: (base) => ({
      ...base,
      normalizer: null,
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Digits', individual_digits: true },
          { ...BYTE_LEVEL, use_regex: true },
        ],
      },
      post_processor: null,
    }),
  },
};

function byteLevelPair(layoutName: string): { gguf: Tokenizer; hf: Tokenizer; tokens: string[] } {
  const layout = LAYOUTS[layoutName]!;
  const vocab = buildSyntheticBpeVocab(20000 - layout.extraSpecials.length, 11);
  const tokens = [...vocab.tokens, ...layout.extraSpecials];
  const types = [...vocab.tokenTypes, ...layout.extraSpecials.map(() => TokenType.CONTROL)];
  const ids = Object.fromEntries(tokens.map((t, id) => [t, id]));
  const metadata = new Map<string, GgufValue>([
    ['tokenizer.ggml.model', 'gpt2'],
    ['tokenizer.ggml.pre', layout.pre],
    ['tokenizer.ggml.tokens', { itemType: GgufValueType.STRING, items: tokens }],
    ['tokenizer.ggml.token_type', { itemType: GgufValueType.INT32, items: types }],
    ['tokenizer.ggml.merges', { itemType: GgufValueType.STRING, items: vocab.merges }],
  ]);
  if (layout.extraSpecials.length > 0) metadata.set('tokenizer.ggml.bos_token_id', ids['<|begin_of_text|>']!);
  const base = {
    version: '1.0',
    added_tokens: tokens.flatMap((content, id) =>
      types[id] === TokenType.CONTROL
        ? [{ id, content, special: true, lstrip: false, rstrip: false, normalized: false, single_word: false }]
        : [],
    ),
    decoder: BYTE_LEVEL,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab: ids,
      merges: vocab.merges,
    },
  };
  return {
    gguf: tokenizerFromGguf(metadata, `synthetic-${layout.pre}`),
    hf: tokenizerFromHfJson(layout.json(base, ids)),
    tokens,
  };
}

const BYTE_LEVEL_TEXTS = [
  ...TEXTS,
  "I'M here, it'S fine; THEY'LL go",
  '3.14159 and 1,000,000 and 2024-01-01',
  'tabs\tand\r\nCRLF  \n  ',
  '<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n',
  'x\uFEFFy \u00a0z \u3000w',
  'Ωμέγα Привет 한국어 ١٢٣ Ⅻ ½',
];

for (const name of Object.keys(LAYOUTS)) {
  test(`a ${name} style byte-level tokenizer.json gives the same ids as the GGUF ${LAYOUTS[name]!.pre} tokenizer`, () => {
    const { gguf, hf, tokens } = byteLevelPair(name);
    assert.equal(hf.vocabSize, gguf.vocabSize);
    assert.equal(hf.addBos, gguf.addBos);
    assert.equal(hf.bosId, gguf.bosId);
    for (const text of BYTE_LEVEL_TEXTS) {
      const ids = hf.encode(text);
      assert.deepEqual(ids, gguf.encode(text), JSON.stringify(text));
      if (!text.includes('<|')) assert.equal(hf.decode(ids), text);
    }
    assert.equal(hf.isEndOfGeneration(tokens.indexOf('<|im_end|>')), true);
  });
}

test('llama3 layout: BOS comes from the TemplateProcessing post-processor', () => {
  const { hf, tokens } = byteLevelPair('llama3');
  const bos = tokens.indexOf('<|begin_of_text|>');
  assert.equal(hf.addBos, true);
  assert.equal(hf.encode('hi')[0], bos);
  assert.equal(hf.isEndOfGeneration(tokens.indexOf('<|eot_id|>')), true);
  assert.equal(hf.isEndOfGeneration(tokens.indexOf('<|end_of_text|>')), true);
});

/** A small byte-level tokenizer.json: some byte characters, two merges, one special and one user-defined added token. */
const SMALL_VOCAB: Record<string, number> = Object.fromEntries(
  [...'abcdefghijklmnopqrstuvwxyz<>|/', '\u0120', 'ab', '\u0120ab'].map((text, id) => [text, id]),
);
const END = 33;
const TOOL = 34;

function small(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    added_tokens: [
      { id: END, content: '</s>', special: true, lstrip: false, rstrip: false, normalized: false, single_word: false },
      {
        id: TOOL,
        content: '<tool>',
        special: false,
        lstrip: false,
        rstrip: true,
        normalized: false,
        single_word: false,
      },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel' },
    model: { type: 'BPE', vocab: SMALL_VOCAB, merges: ['a b', '\u0120 ab'] },
    ...extra,
  };
}

test('tokenizer_config.json: add_bos_token with an AddedToken-style bos_token, and eos_token', () => {
  const plain = tokenizerFromHfJson(small());
  assert.equal(plain.vocabSize, 35);
  assert.equal(plain.addBos, false);
  assert.equal(plain.eosId, undefined);
  const configured = tokenizerFromHfJson(small(), {
    add_bos_token: true,
    bos_token: { content: 'a', lstrip: false },
    eos_token: '</s>',
  });
  assert.equal(configured.addBos, true);
  assert.equal(configured.bosId, SMALL_VOCAB['a']);
  assert.equal(configured.eosId, END);
  assert.deepEqual(configured.encode('ab ab'), [SMALL_VOCAB['a'], SMALL_VOCAB['ab'], SMALL_VOCAB['\u0120ab']]);
});

test('added tokens: special ones only with parseSpecial, user-defined ones always, rstrip eats following spaces', () => {
  const hf = tokenizerFromHfJson(small());
  assert.deepEqual(hf.encode('ab</s>'), [SMALL_VOCAB['ab'], END]);
  assert.ok(!hf.encode('ab</s>', { parseSpecial: false }).includes(END));
  assert.deepEqual(hf.encode('<tool>   ab', { parseSpecial: false }), [TOOL, SMALL_VOCAB['ab']]);
  assert.equal(hf.decode([TOOL, SMALL_VOCAB['ab']!]), '<tool>ab', 'user-defined tokens decode to their text');
  assert.equal(hf.decode([SMALL_VOCAB['ab']!, END]), 'ab', 'special tokens decode to nothing');
});

test('unsupported tokenizer.json content is refused by name', () => {
  assert.throws(
    () => tokenizerFromHfJson({ model: { type: 'Unigram', vocab: [] } }, undefined, 'x/tokenizer.json'),
    /x\/tokenizer\.json.*Unigram/,
  );
  assert.throws(() => tokenizerFromHfJson(small({ pre_tokenizer: { type: 'BertPreTokenizer' } })), /BertPreTokenizer/);
  assert.throws(() => tokenizerFromHfJson(small({ normalizer: { type: 'BertNormalizer' } })), /BertNormalizer/);
  assert.throws(() => tokenizerFromHfJson('not json'), /tokenizer\.json/);
});
