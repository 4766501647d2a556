import { ByteLevelBpeModel } from './bpe.ts';
import { hasByteLevelDecoder, hfNormalizer, hfPreTokenizer } from './hf-pipeline.ts';
import { SentencePieceBpeModel } from './sentencepiece-bpe.ts';
import type { Tokenizer } from './tokenizer.ts';
import { TokenType, VocabTokenizer, type TextModel } from './vocab-tokenizer.ts';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A tokenizer from a Hugging Face tokenizer.json (parsed), optionally with its tokenizer_config.json:
 * model type BPE, either byte-level (Qwen2, Llama 3, SmolLM) or SentencePiece-like with byte fallback
 * (Llama 2, TinyLlama). Added tokens become special tokens; BOS comes from the post-processor template
 * or the config's add_bos_token / bos_token, EOS from the config's eos_token.
 */
export function tokenizerFromHfJson(json: unknown, tokenizerConfig?: unknown, source = 'tokenizer.json'): Tokenizer {
  if (!isObject(json) || !isObject(json.model)) throw new Error(`${source}: not a tokenizer.json (no model object)`);
  const config = isObject(tokenizerConfig) ? tokenizerConfig : {};
  const model = json.model;
  const modelType = model.type ?? (Array.isArray(model.merges) ? 'BPE' : undefined);
  if (modelType !== 'BPE')
    throw new Error(`${source}: tokenizer model type ${String(modelType)} is not supported (only BPE)`);
  for (const key of ['continuing_subword_prefix', 'end_of_word_suffix'] as const) {
    if (typeof model[key] === 'string' && model[key] !== '') throw new Error(`${source}: BPE ${key} is not supported`);
  }
  if (!isObject(model.vocab)) throw new Error(`${source}: model.vocab is missing`);
  const merges = parseMerges(model.merges, source);

  const entries = new Map<number, string>();
  for (const [text, id] of Object.entries(model.vocab)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0)
      throw new Error(`${source}: model.vocab entry ${JSON.stringify(text)} has id ${String(id)}`);
    entries.set(id, text);
  }
  const added = Array.isArray(json.added_tokens) ? json.added_tokens.filter(isObject) : [];
  for (const token of added) {
    if (typeof token.id !== 'number' || typeof token.content !== 'string')
      throw new Error(`${source}: added token ${JSON.stringify(token)} has no id or content`);
    entries.set(token.id, token.content);
  }
  let size = 0;
  for (const id of entries.keys()) size = Math.max(size, id + 1);
  const tokens = Array.from({ length: size }, (_, id) => entries.get(id) ?? '');
  const ids = new Map<string, number>();
  for (const [id, text] of entries) ids.set(text, id);

  const byteFallback = model.byte_fallback === true;
  const unknownId = typeof model.unk_token === 'string' ? ids.get(model.unk_token) : undefined;
  const types = new Uint8Array(size).fill(TokenType.NORMAL);
  tokens.forEach((text, id) => {
    if (!entries.has(id)) types[id] = TokenType.UNUSED;
    else if (byteFallback && /^<0x[0-9A-F]{2}>$/.test(text)) types[id] = TokenType.BYTE;
  });
  const stripFlags = new Map<number, { lstrip: boolean; rstrip: boolean }>();
  for (const token of added) {
    const id = token.id as number;
    types[id] = token.special === true ? TokenType.CONTROL : TokenType.USER_DEFINED;
    if (token.lstrip === true || token.rstrip === true)
      stripFlags.set(id, { lstrip: token.lstrip === true, rstrip: token.rstrip === true });
  }
  if (unknownId !== undefined) types[unknownId] = TokenType.UNKNOWN;

  const normalizer = hfNormalizer(json.normalizer, source);
  const preTokenizer = hfPreTokenizer(json.pre_tokenizer, source);
  const ignoreMerges = model.ignore_merges === true;
  let textModel: TextModel;
  if (preTokenizer.byteLevel || hasByteLevelDecoder(json.decoder)) {
    textModel = new ByteLevelBpeModel({
      tokens,
      merges,
      preTokenize: (text) => preTokenizer.split(normalizer.normalize(text), false),
      ignoreMerges,
    });
  } else {
    textModel = new SentencePieceBpeModel({
      tokens,
      merges,
      words: (text, atStart) => preTokenizer.split(normalizer.normalize(text), atStart),
      byteFallback,
      unknownId,
      ignoreMerges,
      prependsSpace: normalizer.prepends || preTokenizer.prepends,
    });
  }

  const template = bosFromTemplate(json.post_processor, ids);
  const bosId = template.bosId ?? tokenIdOf(config.bos_token, ids);
  const addBos = typeof config.add_bos_token === 'boolean' ? config.add_bos_token : template.addsBos;
  return new VocabTokenizer(
    { tokens, types, bosId, eosId: tokenIdOf(config.eos_token, ids), addBos, stripFlags },
    textModel,
  );
}

function parseMerges(merges: unknown, source: string): (string | [string, string])[] {
  if (!Array.isArray(merges)) throw new Error(`${source}: model.merges is missing`);
  return merges.map((merge, i) => {
    if (typeof merge === 'string') return merge;
    if (Array.isArray(merge) && merge.length === 2 && typeof merge[0] === 'string' && typeof merge[1] === 'string')
      return [merge[0], merge[1]];
    throw new Error(`${source}: model.merges[${i}] is neither "a b" nor ["a", "b"]`);
  });
}

/** tokenizer_config.json names tokens either as a string or as an AddedToken object with `content`. */
function tokenIdOf(token: unknown, ids: ReadonlyMap<string, number>): number | undefined {
  const text =
    typeof token === 'string'
      ? token
      : isObject(token) && typeof token.content === 'string'
        ? token.content
        : undefined;
  return text === undefined ? undefined : ids.get(text);
}

/** A TemplateProcessing post-processor whose single-sequence template starts with a special token adds BOS. */
function bosFromTemplate(spec: unknown, ids: ReadonlyMap<string, number>): { addsBos: boolean; bosId?: number } {
  if (!isObject(spec)) return { addsBos: false };
  if (spec.type === 'Sequence' && Array.isArray(spec.processors)) {
    for (const child of spec.processors) {
      const found = bosFromTemplate(child, ids);
      if (found.addsBos) return found;
    }
    return { addsBos: false };
  }
  if (spec.type !== 'TemplateProcessing' || !Array.isArray(spec.single)) return { addsBos: false };
  const first: unknown = spec.single[0];
  if (!isObject(first) || !isObject(first.SpecialToken)) return { addsBos: false };
  const name = first.SpecialToken.id;
  if (typeof name !== 'string') return { addsBos: false };
  const special = isObject(spec.special_tokens) ? spec.special_tokens[name] : undefined;
  const listed =
    isObject(special) && Array.isArray(special.ids) && typeof special.ids[0] === 'number' ? special.ids[0] : undefined;
  const bosId = listed ?? ids.get(name);
  return bosId === undefined ? { addsBos: false } : { addsBos: true, bosId };
}
