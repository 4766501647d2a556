import { MetadataView, type GgufValue } from '../gguf/value.ts';
import { ByteLevelBpeModel } from './bpe.ts';
import { ggufPreTokenizer, regexPreTokenizer, SUPPORTED_GGUF_PRE_TOKENIZERS } from './pre-tokenize.ts';
import { SpmModel } from './spm.ts';
import type { Tokenizer } from './tokenizer.ts';
import { VocabTokenizer, type TextModel } from './vocab-tokenizer.ts';

/**
 * The tokenizer stored in a GGUF file's metadata: `tokenizer.ggml.model` "llama" (SentencePiece-style,
 * scores and byte fallback) or "gpt2" (byte-level BPE with merges and a `tokenizer.ggml.pre`
 * pre-tokenizer). Defaults follow llama.cpp's llama-vocab.cpp.
 */
export function tokenizerFromGguf(metadata: MetadataView | ReadonlyMap<string, GgufValue>, source: string): Tokenizer {
  const meta = metadata instanceof MetadataView ? metadata : new MetadataView(metadata, source);
  const kind = meta.optionalString('tokenizer.ggml.model');
  if (kind === undefined)
    throw new Error(`${source}: metadata tokenizer.ggml.model is missing: the file has no tokenizer`);
  if (kind !== 'llama' && kind !== 'gpt2') {
    throw new Error(
      `${source}: tokenizer type "${kind}" (tokenizer.ggml.model) is not supported; supported: llama (SentencePiece), gpt2 (byte-level BPE)`,
    );
  }

  const tokens = stringArray(meta, 'tokenizer.ggml.tokens', source);
  if (tokens === undefined) throw new Error(`${source}: metadata tokenizer.ggml.tokens is missing`);
  const types = numberArray(meta, 'tokenizer.ggml.token_type', source, tokens.length);
  const optionalId = (key: string): number | undefined => {
    const id = meta.optionalNumber(key);
    return id !== undefined && id < tokens.length ? id : undefined; // 0xFFFFFFFF and the like mean "none"
  };
  const extraEndIds = [optionalId('tokenizer.ggml.eot_token_id'), optionalId('tokenizer.ggml.eom_token_id')].filter(
    (id): id is number => id !== undefined,
  );

  let model: TextModel;
  let addBosDefault: boolean;
  let bosId: number | undefined;
  let eosId: number | undefined;
  if (kind === 'llama') {
    const scores = numberArray(meta, 'tokenizer.ggml.scores', source, tokens.length);
    model = new SpmModel({
      tokens,
      scores: scores ?? new Float32Array(tokens.length),
      unknownId: meta.has('tokenizer.ggml.unknown_token_id') ? optionalId('tokenizer.ggml.unknown_token_id') : 0,
      addSpacePrefix: meta.bool('tokenizer.ggml.add_space_prefix', true),
    });
    addBosDefault = true;
    bosId = meta.has('tokenizer.ggml.bos_token_id') ? optionalId('tokenizer.ggml.bos_token_id') : 1;
    eosId = meta.has('tokenizer.ggml.eos_token_id') ? optionalId('tokenizer.ggml.eos_token_id') : 2;
  } else {
    const pre = meta.optionalString('tokenizer.ggml.pre');
    const spec = ggufPreTokenizer(pre);
    if (spec === undefined) {
      throw new Error(
        `${source}: pre-tokenizer "${pre}" (tokenizer.ggml.pre) is not supported; supported: ${SUPPORTED_GGUF_PRE_TOKENIZERS.join(', ')}`,
      );
    }
    const merges = stringArray(meta, 'tokenizer.ggml.merges', source);
    if (merges === undefined)
      throw new Error(`${source}: metadata tokenizer.ggml.merges is missing (a gpt2 tokenizer needs its merges)`);
    model = new ByteLevelBpeModel({
      tokens,
      merges,
      preTokenize: regexPreTokenizer(spec.patterns),
      ignoreMerges: spec.ignoreMerges,
    });
    addBosDefault = spec.addBos;
    // A missing id means none: llama.cpp's fallback (11) is a leftover from GPT-2's vocabulary, a comma there.
    bosId = optionalId('tokenizer.ggml.bos_token_id');
    eosId = optionalId('tokenizer.ggml.eos_token_id');
  }

  return new VocabTokenizer(
    {
      tokens,
      types: types ?? [],
      bosId,
      eosId,
      addBos: meta.bool('tokenizer.ggml.add_bos_token', addBosDefault),
      extraEndIds,
    },
    model,
  );
}

function stringArray(meta: MetadataView, key: string, source: string): string[] | undefined {
  const items = meta.array(key);
  if (items === undefined) return undefined;
  return items.map((item, i) => {
    if (typeof item !== 'string') throw new Error(`${source}: metadata ${key}[${i}] is not a string`);
    return item;
  });
}

function numberArray(meta: MetadataView, key: string, source: string, length: number): Float64Array | undefined {
  const items = meta.array(key);
  if (items === undefined) return undefined;
  if (items.length < length)
    throw new Error(`${source}: metadata ${key} has ${items.length} entries for ${length} tokens`);
  return Float64Array.from(items, (item, i) => {
    if (typeof item === 'number') return item;
    if (typeof item === 'bigint') return Number(item);
    throw new Error(`${source}: metadata ${key}[${i}] is not a number`);
  });
}
