/**
 * The normalizer and pre-tokenizer stages of a Hugging Face tokenizer.json, as functions. Only the
 * stages that decoder-only LLM tokenizers use are understood; anything else is refused by name rather
 * than silently tokenizing differently.
 */
import { GPT2_PATTERN, hfPatternToJs, regexPreTokenizer } from './pre-tokenize.ts';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function typeOf(spec: Json, what: string, source: string): string {
  if (typeof spec.type !== 'string') throw new Error(`${source}: ${what} has no type`);
  return spec.type;
}

function children(spec: Json, key: string, what: string, source: string): unknown[] {
  const list = spec[key];
  if (!Array.isArray(list)) throw new Error(`${source}: ${what} Sequence has no ${key} list`);
  return list;
}

/** A `{ String }` or `{ Regex }` pattern as JavaScript regex source. */
function patternOf(spec: unknown, what: string, source: string): string {
  if (isObject(spec) && typeof spec.String === 'string') return spec.String.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  if (isObject(spec) && typeof spec.Regex === 'string') return hfPatternToJs(spec.Regex);
  throw new Error(`${source}: ${what} has no String or Regex pattern`);
}

export interface HfNormalizer {
  readonly normalize: (text: string) => string;
  /** Whether it puts a '▁' in front of the text (Llama 2's Prepend), which decoding removes. */
  readonly prepends: boolean;
}

export function hfNormalizer(spec: unknown, source: string): HfNormalizer {
  if (spec === null || spec === undefined) return { normalize: (t) => t, prepends: false };
  if (!isObject(spec)) throw new Error(`${source}: normalizer is not an object`);
  const type = typeOf(spec, 'normalizer', source);
  switch (type) {
    case 'Sequence': {
      const steps = children(spec, 'normalizers', 'normalizer', source).map((child) => hfNormalizer(child, source));
      return {
        normalize: (t) => steps.reduce((text, step) => step.normalize(text), t),
        prepends: steps.some((s) => s.prepends),
      };
    }
    case 'Prepend': {
      const prefix = String(spec.prepend ?? '');
      return { normalize: (t) => (t.length > 0 ? prefix + t : t), prepends: prefix.length > 0 };
    }
    case 'Replace': {
      const pattern = new RegExp(patternOf(spec.pattern, 'Replace normalizer', source), 'gu');
      const content = String(spec.content ?? '');
      return { normalize: (t) => t.replace(pattern, () => content), prepends: false };
    }
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD':
      return { normalize: (t) => t.normalize(type), prepends: false };
    case 'Lowercase':
      return { normalize: (t) => t.toLowerCase(), prepends: false };
    default:
      throw new Error(`${source}: normalizer type ${type} is not supported`);
  }
}

export interface HfPreTokenizer {
  /** Cuts a fragment into words; `atStart` is true when the fragment opens the text. */
  readonly split: (text: string, atStart: boolean) => string[];
  /** Whether a ByteLevel stage is present (byte-level BPE). */
  readonly byteLevel: boolean;
  /** Whether a Metaspace stage puts '▁' in front of the text. */
  readonly prepends: boolean;
}

type Stage = (pieces: string[], atStart: boolean) => string[];

export function hfPreTokenizer(spec: unknown, source: string): HfPreTokenizer {
  const stages: Stage[] = [];
  let byteLevel = false;
  let prepends = false;

  const add = (node: unknown): void => {
    if (node === null || node === undefined) return;
    if (!isObject(node)) throw new Error(`${source}: pre_tokenizer is not an object`);
    const type = typeOf(node, 'pre_tokenizer', source);
    switch (type) {
      case 'Sequence':
        for (const child of children(node, 'pretokenizers', 'pre_tokenizer', source)) add(child);
        return;
      case 'ByteLevel': {
        byteLevel = true;
        const prefix = node.add_prefix_space === true;
        const regex = node.use_regex === false ? undefined : regexPreTokenizer([GPT2_PATTERN]);
        stages.push((pieces) =>
          pieces.flatMap((piece) => {
            const text = prefix && !piece.startsWith(' ') ? ' ' + piece : piece;
            return regex ? regex(text) : [text];
          }),
        );
        return;
      }
      case 'Split': {
        const behavior = String(node.behavior ?? 'Isolated');
        if (behavior !== 'Isolated' || node.invert === true) {
          throw new Error(
            `${source}: Split pre-tokenizer with behavior ${behavior}${node.invert === true ? ', inverted,' : ''} is not supported (only Isolated)`,
          );
        }
        const splitter = regexPreTokenizer([patternOf(node.pattern, 'Split pre-tokenizer', source)]);
        stages.push((pieces) => pieces.flatMap(splitter));
        return;
      }
      case 'Digits': {
        const digits = regexPreTokenizer([node.individual_digits === true ? String.raw`\p{N}` : String.raw`\p{N}+`]);
        stages.push((pieces) => pieces.flatMap(digits));
        return;
      }
      case 'Metaspace': {
        const mark = String(node.replacement ?? '\u2581');
        const scheme =
          typeof node.prepend_scheme === 'string'
            ? node.prepend_scheme
            : node.add_prefix_space === false
              ? 'never'
              : 'always';
        if (scheme !== 'always' && scheme !== 'first' && scheme !== 'never')
          throw new Error(`${source}: Metaspace prepend_scheme ${scheme} is not supported`);
        prepends = scheme !== 'never';
        const split = node.split !== false;
        stages.push((pieces, atStart) =>
          pieces.flatMap((piece, i) => {
            let text = piece.replaceAll(' ', mark);
            const prepend = scheme === 'always' || (scheme === 'first' && atStart && i === 0);
            if (prepend && !text.startsWith(mark)) text = mark + text;
            return split ? splitBefore(text, mark) : [text];
          }),
        );
        return;
      }
      default:
        throw new Error(`${source}: pre_tokenizer type ${type} is not supported`);
    }
  };
  add(spec);
  return {
    split: (text, atStart) => stages.reduce((pieces, stage) => stage(pieces, atStart), text.length > 0 ? [text] : []),
    byteLevel,
    prepends,
  };
}

/** Splits so each piece starts at an occurrence of `mark` (Metaspace's MergedWithNext). */
function splitBefore(text: string, mark: string): string[] {
  const pieces: string[] = [];
  let start = 0;
  for (let at = text.indexOf(mark, 1); at >= 0; at = text.indexOf(mark, at + mark.length)) {
    if (at > start) pieces.push(text.slice(start, at));
    start = at;
  }
  if (start < text.length) pieces.push(text.slice(start));
  return pieces;
}

/** Whether a decoder (or any stage of a decoder Sequence) is ByteLevel. */
export function hasByteLevelDecoder(spec: unknown): boolean {
  if (!isObject(spec)) return false;
  if (spec.type === 'ByteLevel') return true;
  return spec.type === 'Sequence' && Array.isArray(spec.decoders) && spec.decoders.some(hasByteLevelDecoder);
}
