/**
 * Synthetic vocabularies of exact, real sizes (151936 for Qwen2.5, 49152 for SmolLM, 128256 for Llama 3)
 * for random-weight models: valid (llama.cpp loads them), deterministic from a seed, and shaped so that
 * English text tokenizes to realistic lengths: a few hundred common words are single tokens, other words
 * split into a few English-like pieces (about two tokens per word on general prose).
 */
import { BYTE_ORDER, BYTE_TO_CHAR, toByteLevel } from '../../src/model/tokenizer/byte-level.ts';
import { TokenType } from '../../src/model/tokenizer/vocab-tokenizer.ts';

export interface SyntheticBpeVocab {
  readonly tokens: string[];
  readonly tokenTypes: Int32Array;
  /** "left right" rules, one per merged token, in rank order; both parts and the result are entries. */
  readonly merges: string[];
}

export interface SyntheticSpmVocab {
  readonly tokens: string[];
  readonly scores: Float32Array;
  readonly tokenTypes: Int32Array;
}

/** The control tokens a synthetic byte-level vocabulary ends with (Qwen2's). */
export const SYNTHETIC_BPE_CONTROL_TOKENS: readonly string[] = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];

/** Frequent English words, made whole tokens (bare, capitalised, after a space) before anything random. */
const COMMON_WORDS = (
  'the of and to in is was that for it with as on be at by this had not are but from or have an they which one you were her all ' +
  'she there would their we him been has when who will more no if out so said what up its about into than them can only other ' +
  'new some could time these two may then do first any my now such like our over man me even most made after also did many ' +
  'before must through back years where much your way well down should because each just those people how too little state good ' +
  'very make world still own see men work long get here between both life being under never day same another know while last ' +
  'might us great old year off come since against go came right used take three once upon girl boy named play loved happy ' +
  'mom dad friend went saw big tree park ball dog cat sun sky water home house story tell asked help look wanted ' +
  'system data model use using user number part place case point group problem fact question hand high small large next early ' +
  'important public different following without during within around however including general example information ' +
  'government company development program research service business school family children students water health ' +
  'language text code function value result process learning training network performance time page list set need ' +
  'think say said find give call feel try leave put mean keep let begin seem show hear run move live believe bring ' +
  'happen write provide sit stand lose pay meet include continue change lead understand watch follow stop create speak ' +
  'read allow add spend grow open walk win offer remember love consider appear buy wait serve die send expect build stay fall'
).split(' ');

/** Common word endings and beginnings, so other words split into a few plausible pieces. */
const AFFIXES = (
  'ing ed er ly es tion ent al re con pro ment ness able ous ive ity ers ion ies ate ize est ful less un dis pre com ex ic ' +
  'ical ance ence ial ist ism ant age ure ory ary ward ship ical ally ated ating ation ations ings ened ence ency ious ' +
  'th st ch sh wh ph tr pl gr br cr fr pr sp sc ou ea ai oo ee ow ar or ur ir an en in on un am em im om um'
).split(' ');
/** Syllable parts for made-up English-like words, which fill the long tail of the merge table. */
const ONSETS = [
  '',
  '',
  '',
  'b',
  'c',
  'd',
  'f',
  'g',
  'h',
  'j',
  'k',
  'l',
  'm',
  'n',
  'p',
  'r',
  's',
  't',
  'v',
  'w',
  'y',
  'z',
  'bl',
  'br',
  'ch',
  'cl',
  'cr',
  'dr',
  'fl',
  'fr',
  'gl',
  'gr',
  'pl',
  'pr',
  'qu',
  'sc',
  'sh',
  'sk',
  'sl',
  'sm',
  'sn',
  'sp',
  'st',
  'str',
  'sw',
  'th',
  'tr',
  'wh',
];
const NUCLEI = ['a', 'e', 'i', 'o', 'u', 'a', 'e', 'i', 'o', 'y', 'ea', 'ee', 'ai', 'ou', 'oo', 'ie', 'io', 'au', 'oi'];
const CODAS = [
  '',
  '',
  '',
  '',
  'n',
  'r',
  's',
  't',
  'l',
  'd',
  'm',
  'x',
  'ng',
  'nt',
  'st',
  'ck',
  'll',
  'ss',
  'rd',
  'rt',
  'nd',
  'ct',
  'sh',
  'th',
  'ch',
  'mp',
  'ft',
  'lt',
  'rn',
  'rm',
  'ble',
  'tion',
  'sion',
  'ment',
  'ing',
  'ed',
  'er',
  'es',
  'ly',
  'ous',
  'al',
  'ive',
];

/** Whitespace, punctuation and digit pieces that pre-tokenizers keep inside one word. */
const OTHER_PIECES = [
  ' ',
  '  ',
  '   ',
  '    ',
  '\n',
  '\n\n',
  '\n\n\n',
  '.\n',
  '.\n\n',
  ',\n',
  ':\n',
  ' (',
  ' "',
  ' -',
  ' =',
  '...',
  '..',
  '()',
  '();',
  ' {',
  ' }',
  '):',
  '")',
  "'s",
  "'t",
  "'re",
  "'ll",
  "'ve",
  '00',
  '10',
  '20',
  '19',
  '200',
  '201',
  '202',
  '000',
  '.\u201d',
  ' \u2014',
];

type Rng = () => number;

/** mulberry32: small, fast, and the same on every platform. */
function rng(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Grows `count` new pieces, each the concatenation of two existing ones, and reports every merge in rank
 * order. `spell` turns plain text into the vocabulary's spelling (byte-level characters, or '▁' for spaces).
 */
function growPieces(
  count: number,
  random: Rng,
  spell: (text: string) => string,
  has: (piece: string) => boolean,
  emit: (left: string, right: string) => void,
): void {
  // Ranks by left piece, then right piece: no string building in the segmentation loop.
  const ranks = new Map<string, Map<string, number>>();
  let merges = 0;
  const add = (left: string, right: string): boolean => {
    if (merges >= count || has(left + right) || !has(left) || !has(right)) return false;
    let byRight = ranks.get(left);
    if (byRight === undefined) ranks.set(left, (byRight = new Map()));
    byRight.set(right, merges++);
    emit(left, right);
    return true;
  };
  /** What BPE with the merges so far makes of a spelled word (lowest rank first, leftmost on ties). */
  const segment = (spelled: string): string[] => {
    const parts = [...spelled];
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < parts.length; i++) {
        const rank = ranks.get(parts[i]!)?.get(parts[i + 1]!);
        if (rank !== undefined && rank < bestRank) {
          best = i;
          bestRank = rank;
        }
      }
      if (best < 0) return parts;
      parts.splice(best, 2, parts[best]! + parts[best + 1]!);
    }
  };
  // Each new merge joins two adjacent pieces of the word's current segmentation and ranks after every
  // earlier merge, so BPE reproduces the word whole; a word whose pieces all join into existing entries
  // (made from other splits) stays split. A new merge makes a new entry, which no earlier merge uses, so
  // applying it to the segmentation is all that changes.
  const makeWhole = (spelled: string): void => {
    let parts = segment(spelled);
    while (parts.length > 1) {
      const i = parts.findIndex((part, j) => j + 1 < parts.length && !has(part + parts[j + 1]));
      if (i < 0) return;
      const [left, right] = [parts[i]!, parts[i + 1]!];
      if (!add(left, right)) return;
      const joined: string[] = [];
      for (let j = 0; j < parts.length; j++) {
        if (parts[j] === left && parts[j + 1] === right) {
          joined.push(left + right);
          j++;
        } else {
          joined.push(parts[j]!);
        }
      }
      parts = joined;
    }
  };

  for (const word of COMMON_WORDS) {
    const capital = word[0]!.toUpperCase() + word.slice(1);
    for (const form of [' ' + word, word, ' ' + capital, capital]) makeWhole(spell(form));
  }
  for (const piece of [...AFFIXES, ...OTHER_PIECES]) makeWhole(spell(piece));

  // The long tail: made-up words of one to three English-like syllables, most after a space.
  const pick = (list: readonly string[]) => list[Math.floor(random() * list.length)]!;
  for (let idle = 0; merges < count;) {
    let word = '';
    for (let n = 1 + Math.floor(random() * 3); n > 0; n--) word += pick(ONSETS) + pick(NUCLEI) + pick(CODAS);
    if (random() < 0.1) word = word[0]!.toUpperCase() + word.slice(1);
    const before = merges;
    makeWhole(spell(random() < 0.6 ? ' ' + word : word));
    idle = merges === before ? idle + 1 : 0;
    if (idle > 100_000) throw new Error(`synthetic vocabulary: no new pieces after ${merges} merges`);
  }
}

/**
 * A GPT-2 byte-level BPE vocabulary of exactly `size` entries: the 256 byte characters (GPT-2 order),
 * then merged pieces with one merge rule each, then SYNTHETIC_BPE_CONTROL_TOKENS.
 */
export function buildSyntheticBpeVocab(size: number, seed: number): SyntheticBpeVocab {
  const controls = SYNTHETIC_BPE_CONTROL_TOKENS;
  if (!Number.isInteger(size) || size < 256 + controls.length)
    throw new Error(`a byte-level vocabulary needs at least ${256 + controls.length} entries, not ${size}`);
  const tokens = BYTE_ORDER.map((b) => BYTE_TO_CHAR[b]!);
  const known = new Set(tokens);
  const merges: string[] = [];
  growPieces(
    size - 256 - controls.length,
    rng(seed),
    toByteLevel,
    (p) => known.has(p),
    (left, right) => {
      tokens.push(left + right);
      known.add(left + right);
      merges.push(`${left} ${right}`);
    },
  );
  tokens.push(...controls);
  const tokenTypes = new Int32Array(size).fill(TokenType.NORMAL);
  tokenTypes.fill(TokenType.CONTROL, size - controls.length);
  return { tokens, tokenTypes, merges };
}

const SPM_SINGLE_CHARACTERS = [
  '\u2581',
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
  ...'.,!?;:\'"()-[]{}<>/\\|@#$%^&*_+=~`',
];

/**
 * A SentencePiece-style vocabulary of exactly `size` entries: <unk>, <s>, </s>, the 256 <0xNN> byte
 * tokens, merged pieces with falling scores, then single characters (lowest scores), as Llama 2's is laid out.
 */
export function buildSyntheticSpmVocab(size: number, seed: number): SyntheticSpmVocab {
  const fixed = 3 + 256 + SPM_SINGLE_CHARACTERS.length;
  if (!Number.isInteger(size) || size < fixed)
    throw new Error(`a SentencePiece vocabulary needs at least ${fixed} entries, not ${size}`);
  const tokens = ['<unk>', '<s>', '</s>'];
  for (let b = 0; b < 256; b++) tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  const known = new Set([...tokens, ...SPM_SINGLE_CHARACTERS]);
  growPieces(
    size - fixed,
    rng(seed),
    (text) => text.replaceAll(' ', '\u2581'),
    (p) => known.has(p),
    (left, right) => {
      tokens.push(left + right);
      known.add(left + right);
    },
  );
  tokens.push(...SPM_SINGLE_CHARACTERS);
  const scores = new Float32Array(size);
  for (let id = 259; id < size; id++) scores[id] = -(id - 259);
  const tokenTypes = new Int32Array(size).fill(TokenType.NORMAL);
  tokenTypes[0] = TokenType.UNKNOWN;
  tokenTypes[1] = TokenType.CONTROL;
  tokenTypes[2] = TokenType.CONTROL;
  tokenTypes.fill(TokenType.BYTE, 3, 259);
  return { tokens, scores, tokenTypes };
}
