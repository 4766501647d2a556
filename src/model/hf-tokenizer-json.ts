/** GGUF token types (llama.cpp's llama_token_type). */
const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export interface SpmVocab {
  readonly tokens: readonly string[];
  readonly scores: readonly number[];
  readonly tokenTypes: readonly number[];
  readonly bosId?: number;
  readonly eosId?: number;
  readonly unkId?: number;
  readonly addBos: boolean;
}

/**
 * BPE merges that replay SentencePiece's merge-by-score: every split of a normal token into two vocabulary
 * pieces becomes a merge, ranked by the merged token's score (highest first), as Hugging Face's own
 * SentencePiece converter ranks them.
 */
function mergesFromScores(vocab: SpmVocab, ids: ReadonlyMap<string, number>): [string, string][] {
  const found: { left: string; right: string; score: number; leftId: number; rightId: number }[] = [];
  vocab.tokens.forEach((token, id) => {
    if (vocab.tokenTypes[id] !== TOKEN_TYPE.NORMAL) return;
    const chars = [...token];
    for (let cut = 1; cut < chars.length; cut++) {
      const left = chars.slice(0, cut).join('');
      const right = chars.slice(cut).join('');
      const leftId = ids.get(left);
      const rightId = ids.get(right);
      if (leftId !== undefined && rightId !== undefined)
        found.push({ left, right, score: vocab.scores[id] ?? 0, leftId, rightId });
    }
  });
  found.sort((a, b) => b.score - a.score || a.leftId - b.leftId || a.rightId - b.rightId);
  return found.map(({ left, right }) => [left, right]);
}

/**
 * A Hugging Face tokenizer.json for a SentencePiece (GGUF `tokenizer.ggml.model = llama`) vocabulary, in
 * the layout of Llama 2's: BPE with byte fallback, "▁" for spaces and a leading "▁", BOS added by the
 * post-processor when the model adds one.
 */
export function spmTokenizerJson(vocab: SpmVocab): Record<string, unknown> {
  const ids = new Map<string, number>();
  vocab.tokens.forEach((token, id) => {
    if (!ids.has(token)) ids.set(token, id);
  });
  const merges = mergesFromScores(vocab, ids);
  const special = (type: number | undefined) =>
    type === TOKEN_TYPE.CONTROL || type === TOKEN_TYPE.UNKNOWN || type === TOKEN_TYPE.USER_DEFINED;
  const addedTokens = vocab.tokens.flatMap((content, id) =>
    special(vocab.tokenTypes[id])
      ? [
          {
            id,
            content,
            single_word: false,
            lstrip: false,
            rstrip: false,
            normalized: false,
            special: vocab.tokenTypes[id] !== TOKEN_TYPE.USER_DEFINED,
          },
        ]
      : [],
  );
  const bos = vocab.bosId === undefined ? undefined : vocab.tokens[vocab.bosId];
  const withBos = (sequence: string) => [
    ...(vocab.addBos && bos !== undefined ? [{ SpecialToken: { id: bos, type_id: 0 } }] : []),
    { Sequence: { id: sequence, type_id: 0 } },
  ];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: withBos('A'),
      pair: [...withBos('A'), ...withBos('B')],
      special_tokens:
        vocab.addBos && bos !== undefined ? { [bos]: { id: bos, ids: [vocab.bosId], tokens: [bos] } } : {},
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: vocab.unkId === undefined ? null : vocab.tokens[vocab.unkId],
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: Object.fromEntries(ids),
      // "left right" strings unless a piece holds a space, which only the newer pair form can carry.
      merges: merges.some(([l, r]) => l.includes(' ') || r.includes(' '))
        ? merges
        : merges.map(([l, r]) => `${l} ${r}`),
    },
  };
}
