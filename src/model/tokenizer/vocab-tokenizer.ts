import { SpecialTokenSplitter, type SpecialToken } from './special-split.ts';
import type { StreamDecoder, Tokenizer } from './tokenizer.ts';
import { Utf8Stream } from './utf8-stream.ts';

/** Token types as GGUF numbers them (tokenizer.ggml.token_type). */
export const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/**
 * Entries that end a turn or a document. Like llama.cpp, a token with one of these texts ends generation
 * and is treated as a control token, whatever type the file gives it.
 */
export const END_OF_GENERATION_TEXTS: ReadonlySet<string> = new Set([
  '<|im_end|>',
  '<|endoftext|>',
  '<|eot_id|>',
  '<|eom_id|>',
  '<|end_of_text|>',
  '</s>',
  '<|end|>',
  '<end_of_turn>',
]);

/** How one vocabulary turns plain text (between special tokens) into ids, and normal entries back into bytes. */
export interface TextModel {
  /**
   * Appends the ids of a piece of text between special tokens; `atStart` is true when it opens the whole
   * text (no special token before it).
   */
  encodeFragment(text: string, atStart: boolean, out: number[]): void;
  /** The bytes a normal vocabulary entry stands for. */
  normalPieceBytes(text: string): Uint8Array;
  /** Whether encoding puts a space in front of the text, which decode() then takes off again. */
  readonly prependsSpace: boolean;
}

export interface VocabularyInfo {
  readonly tokens: readonly string[];
  /** TokenType per id (missing or unrecognised entries count as NORMAL). */
  readonly types: ArrayLike<number>;
  readonly bosId?: number;
  readonly eosId?: number;
  readonly addBos: boolean;
  /** End-of-generation ids named by the model besides EOS (GGUF eot / eom ids). */
  readonly extraEndIds?: readonly number[];
  /** Hugging Face added-token whitespace flags, by id. */
  readonly stripFlags?: ReadonlyMap<number, { readonly lstrip: boolean; readonly rstrip: boolean }>;
}

const utf8Encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;
/** A U+FEFF at the start of a text is content here, not a byte-order mark to drop. */
const KEEP_BOM = { ignoreBOM: true };

/** A Tokenizer over a vocabulary and a TextModel: special tokens, BOS, decoding and end-of-generation. */
export class VocabTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId?: number;
  readonly eosId?: number;
  readonly addBos: boolean;
  private readonly tokens: readonly string[];
  private readonly types: Uint8Array;
  private readonly endIds: ReadonlySet<number>;
  private readonly splitter: SpecialTokenSplitter;
  private readonly pieces: (Uint8Array | undefined)[];

  constructor(
    info: VocabularyInfo,
    private readonly model: TextModel,
  ) {
    this.tokens = info.tokens;
    this.vocabSize = info.tokens.length;
    this.bosId = validId(info.bosId, this.vocabSize);
    this.eosId = validId(info.eosId, this.vocabSize);
    this.addBos = info.addBos && this.bosId !== undefined;
    this.types = new Uint8Array(this.vocabSize);
    for (let id = 0; id < this.vocabSize; id++) this.types[id] = info.types[id] ?? TokenType.NORMAL;

    const endIds = new Set<number>();
    for (const id of [info.eosId, ...(info.extraEndIds ?? [])]) {
      const valid = validId(id, this.vocabSize);
      if (valid !== undefined) endIds.add(valid);
    }
    for (let id = 0; id < this.vocabSize; id++) {
      if (END_OF_GENERATION_TEXTS.has(this.tokens[id]!)) {
        endIds.add(id);
        this.types[id] = TokenType.CONTROL;
      }
    }
    this.endIds = endIds;

    const specials: SpecialToken[] = [];
    for (let id = 0; id < this.vocabSize; id++) {
      const type = this.types[id];
      if (type !== TokenType.CONTROL && type !== TokenType.USER_DEFINED && type !== TokenType.UNKNOWN) continue;
      const flags = info.stripFlags?.get(id);
      specials.push({
        id,
        text: this.tokens[id]!,
        alwaysParsed: type === TokenType.USER_DEFINED,
        lstrip: flags?.lstrip,
        rstrip: flags?.rstrip,
      });
    }
    this.splitter = new SpecialTokenSplitter(specials);
    this.pieces = new Array(this.vocabSize);
  }

  encode(text: string, options: { addBos?: boolean; parseSpecial?: boolean } = {}): number[] {
    const out: number[] = [];
    if ((options.addBos ?? this.addBos) && this.bosId !== undefined) out.push(this.bosId);
    const fragments = this.splitter.split(text, options.parseSpecial ?? true);
    fragments.forEach((fragment, i) => {
      if (typeof fragment === 'number') out.push(fragment);
      else this.model.encodeFragment(fragment, i === 0, out);
    });
    return out;
  }

  /**
   * Decodes a whole encoded text: control tokens (BOS, EOS, ...) render as nothing, and the space that
   * encode() put in front of the text (SentencePiece-style vocabularies) is taken off again.
   */
  decode(ids: readonly number[]): string {
    const parts: Uint8Array[] = [];
    let length = 0;
    const first = ids.length > 0 && ids[0] === this.bosId ? 1 : 0;
    for (let i = 0; i < ids.length; i++) {
      let bytes = this.pieceBytes(ids[i]!);
      if (i === first && this.model.prependsSpace && bytes[0] === 0x20) bytes = bytes.subarray(1);
      parts.push(bytes);
      length += bytes.length;
    }
    const all = new Uint8Array(length);
    let at = 0;
    for (const part of parts) {
      all.set(part, at);
      at += part.length;
    }
    return new TextDecoder('utf-8', KEEP_BOM).decode(all);
  }

  /** Decodes generated ids as they come: a continuation, so no leading space is removed. */
  streamDecoder(): StreamDecoder {
    const stream = new Utf8Stream();
    return {
      push: (id) => stream.push(this.pieceBytes(id)),
      peek: (id) => stream.peek(this.pieceBytes(id)),
      flush: () => stream.flush(),
    };
  }

  isEndOfGeneration(id: number): boolean {
    return this.endIds.has(id);
  }

  /** The stored entry; ids past the vocabulary (models pad their embedding rows, Qwen2.5 by 271) give ''. */
  tokenText(id: number): string {
    checkId(id);
    return this.tokens[id] ?? '';
  }

  /** The bytes a token stands for in text; ids past the vocabulary stand for nothing. */
  private pieceBytes(id: number): Uint8Array {
    checkId(id);
    if (id >= this.vocabSize) return EMPTY;
    let bytes = this.pieces[id];
    if (bytes === undefined) {
      bytes = this.computePiece(id);
      this.pieces[id] = bytes;
    }
    return bytes;
  }

  private computePiece(id: number): Uint8Array {
    const text = this.tokens[id]!;
    switch (this.types[id]) {
      case TokenType.CONTROL:
      case TokenType.UNKNOWN:
      case TokenType.UNUSED:
        return EMPTY;
      case TokenType.USER_DEFINED:
        return utf8Encoder.encode(text);
      case TokenType.BYTE: {
        const hex = BYTE_TOKEN.exec(text);
        return hex ? Uint8Array.of(parseInt(hex[1]!, 16)) : utf8Encoder.encode(text);
      }
      default:
        return this.model.normalPieceBytes(text);
    }
  }
}

function validId(id: number | undefined, vocabSize: number): number | undefined {
  return id !== undefined && Number.isInteger(id) && id >= 0 && id < vocabSize ? id : undefined;
}

function checkId(id: number): void {
  if (!Number.isInteger(id) || id < 0) throw new RangeError(`token id ${id} is not a valid id`);
}
