import { splitMerge } from './bpe.ts';
import { MergeRules } from './merge-rules.ts';
import type { TextModel } from './vocab-tokenizer.ts';

const utf8 = new TextEncoder();

export interface SentencePieceBpeOptions {
  readonly tokens: readonly string[];
  readonly merges: readonly (string | readonly [string, string])[];
  /** Normalizer and pre-tokenizer together: a text fragment to the words BPE runs on. */
  readonly words: (text: string, atStart: boolean) => string[];
  readonly byteFallback: boolean;
  readonly unknownId?: number;
  readonly ignoreMerges: boolean;
  readonly prependsSpace: boolean;
}

/**
 * Hugging Face's BPE model without byte-level mapping, as Llama 2 / TinyLlama tokenizer.json files use
 * it: words start as one symbol per character, a character outside the vocabulary becomes its UTF-8
 * bytes as <0xNN> tokens (byte_fallback) or the unknown token, and ranked merges join the symbols.
 */
export class SentencePieceBpeModel implements TextModel {
  readonly prependsSpace: boolean;
  private readonly ids = new Map<string, number>();
  private readonly rules = new MergeRules();
  private readonly byteIds: (number | undefined)[];

  constructor(private readonly options: SentencePieceBpeOptions) {
    this.prependsSpace = options.prependsSpace;
    options.tokens.forEach((text, id) => {
      if (text.length > 0) this.ids.set(text, id);
    });
    options.merges.forEach((merge, rank) => {
      const parts = typeof merge === 'string' ? splitMerge(merge) : merge;
      if (parts === undefined) return;
      const [left, right] = parts;
      const a = this.ids.get(left);
      const b = this.ids.get(right);
      const result = this.ids.get(left + right);
      // Hugging Face refuses such a file; a rule that can never apply changes nothing here.
      if (a !== undefined && b !== undefined && result !== undefined) this.rules.add(a, b, result, rank);
    });
    this.byteIds = Array.from({ length: 256 }, (_, b) =>
      this.ids.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`),
    );
  }

  encodeFragment(text: string, atStart: boolean, out: number[]): void {
    for (const word of this.options.words(text, atStart)) {
      const whole = this.options.ignoreMerges ? this.ids.get(word) : undefined;
      if (whole !== undefined) {
        out.push(whole);
        continue;
      }
      const symbols: number[] = [];
      for (const char of word) this.pushSymbol(char, symbols);
      for (const id of this.rules.apply(symbols)) out.push(id);
    }
  }

  normalPieceBytes(text: string): Uint8Array {
    return utf8.encode(text.replaceAll('\u2581', ' '));
  }

  private pushSymbol(char: string, symbols: number[]): void {
    const id = this.ids.get(char);
    if (id !== undefined) {
      symbols.push(id);
      return;
    }
    if (this.options.byteFallback) {
      const bytes = utf8.encode(char);
      const byteIds = Array.from(bytes, (b) => this.byteIds[b]);
      if (byteIds.every((b) => b !== undefined)) {
        symbols.push(...(byteIds as number[]));
        return;
      }
    }
    if (this.options.unknownId === undefined)
      throw new Error(
        `cannot encode ${JSON.stringify(char)}: it is not in the vocabulary and there is no unknown token`,
      );
    symbols.push(this.options.unknownId);
  }
}
