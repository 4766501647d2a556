import { BYTE_TO_CHAR, fromByteLevel, toByteLevel } from './byte-level.ts';
import { MergeRules } from './merge-rules.ts';
import { VocabIndex } from './vocab-index.ts';
import type { PreTokenizer } from './pre-tokenize.ts';
import type { TextModel } from './vocab-tokenizer.ts';

const utf8 = new TextEncoder();
/** Words seen before skip merging; the cache is dropped whole when it grows past this. */
const WORD_CACHE_LIMIT = 50_000;

export interface ByteLevelBpeOptions {
  readonly tokens: readonly string[];
  /** "left right" merge rules, best first (GGUF tokenizer.ggml.merges, tokenizer.json model.merges). */
  readonly merges: readonly (string | readonly [string, string])[];
  readonly preTokenize: PreTokenizer;
  /** Whether a word that is already an entry is taken whole (llama.cpp ignore_merges, Llama 3). */
  readonly ignoreMerges: boolean;
}

/**
 * GPT-2 byte-level BPE (llama.cpp's llm_tokenizer_bpe, Hugging Face's ByteLevel + BPE): the
 * pre-tokenizer cuts text into words, each word starts as one symbol per UTF-8 byte (spelled with
 * GPT-2's byte characters), and ranked merges join symbols until no adjacent pair has a rule.
 */
export class ByteLevelBpeModel implements TextModel {
  readonly prependsSpace = false;
  private readonly ids: VocabIndex;
  private readonly vocabSize: number;
  /** Symbols that rules mention but the vocabulary lacks, numbered from vocabSize up. */
  private readonly extraSymbols: string[] = [];
  private readonly extraIds = new Map<string, number>();
  private readonly byteSymbols: Int32Array;
  private readonly rules: MergeRules;
  private readonly preTokenize: PreTokenizer;
  private readonly ignoreMerges: boolean;
  private cache = new Map<string, readonly number[]>();

  constructor(options: ByteLevelBpeOptions) {
    this.vocabSize = options.tokens.length;
    this.ids = new VocabIndex(options.tokens);
    this.rules = new MergeRules(options.merges.length);
    this.preTokenize = options.preTokenize;
    this.ignoreMerges = options.ignoreMerges;
    this.byteSymbols = Int32Array.from(BYTE_TO_CHAR, (char) => this.symbol(char));
    const tokens = options.tokens;
    const merges = options.merges;
    // A trained vocabulary lists the result of merge r at id r + (a fixed offset, 256 for GPT-2 style
    // ones): checking that guess in place skips building and hashing the joined string for nearly every
    // rule. A miss looks the string up and moves the guess. With a text listed twice the guess could
    // be the id a lookup does not give, so such a vocabulary is looked up throughout.
    const guessing = !this.ids.hasRepeats;
    let offset = 0;
    for (let rank = 0; rank < merges.length; rank++) {
      const merge = merges[rank]!;
      let a: number;
      let b: number;
      let result: number;
      if (typeof merge === 'string') {
        const space = merge.indexOf(' ', 1);
        if (space < 0) continue;
        // Both sides are entries in a well-formed file: found in place, no substring made.
        a = this.ids.findRange(merge, 0, space) ?? this.symbol(merge.slice(0, space));
        b = this.ids.findRange(merge, space + 1, merge.length) ?? this.symbol(merge.slice(space + 1));
        if (guessing && isJoined(tokens[rank + offset], merge, space)) result = rank + offset;
        else result = this.symbol(merge.slice(0, space) + merge.slice(space + 1));
      } else {
        a = this.symbol(merge[0]);
        b = this.symbol(merge[1]);
        result = this.symbol(merge[0] + merge[1]);
      }
      if (result < this.vocabSize) offset = result - rank;
      this.rules.add(a, b, result, rank);
    }
  }

  encodeFragment(text: string, _atStart: boolean, out: number[]): void {
    for (const word of this.preTokenize(text)) {
      let ids = this.cache.get(word);
      if (ids === undefined) {
        ids = this.encodeWord(word);
        if (this.cache.size >= WORD_CACHE_LIMIT) this.cache = new Map();
        this.cache.set(word, ids);
      }
      for (const id of ids) out.push(id);
    }
  }

  normalPieceBytes(text: string): Uint8Array {
    return fromByteLevel(text);
  }

  private encodeWord(word: string): number[] {
    if (this.ignoreMerges) {
      const whole = this.ids.get(toByteLevel(word));
      if (whole !== undefined) return [whole];
    }
    const symbols = Array.from(utf8.encode(word), (b) => this.byteSymbols[b]!);
    const out: number[] = [];
    for (const id of this.rules.apply(symbols)) {
      if (id < this.vocabSize) {
        out.push(id);
        continue;
      }
      // A symbol outside the vocabulary: spell it with its characters' entries, as llama.cpp does.
      for (const char of this.extraSymbols[id - this.vocabSize]!) {
        const charId = this.ids.get(char);
        if (charId !== undefined) out.push(charId);
      }
    }
    return out;
  }

  private symbol(text: string): number {
    const id = this.ids.get(text) ?? this.extraIds.get(text);
    if (id !== undefined) return id;
    const extra = this.vocabSize + this.extraSymbols.length;
    this.extraSymbols.push(text);
    this.extraIds.set(text, extra);
    return extra;
  }
}

/** Whether `token` is the rule `merge` ("left right", its space at `space`) joined; compared in place. */
function isJoined(token: string | undefined, merge: string, space: number): boolean {
  if (token === undefined || token.length !== merge.length - 1) return false;
  for (let i = 0; i < space; i++) if (token.charCodeAt(i) !== merge.charCodeAt(i)) return false;
  for (let i = space + 1; i < merge.length; i++) if (token.charCodeAt(i - 1) !== merge.charCodeAt(i)) return false;
  return true;
}

/** Splits "left right" at the first space after the first character (llama.cpp's rule). */
export function splitMerge(merge: string): [string, string] | undefined {
  const space = merge.indexOf(' ', 1);
  return space < 0 ? undefined : [merge.slice(0, space), merge.slice(space + 1)];
}
