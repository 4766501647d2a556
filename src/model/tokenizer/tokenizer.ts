/** Text <-> token ids, built from the model file's own vocabulary. */
export interface Tokenizer {
  readonly vocabSize: number;
  readonly bosId?: number;
  readonly eosId?: number;
  /** Whether encode() prepends BOS by default (tokenizer.ggml.add_bos_token / tokenizer.json post-processor). */
  readonly addBos: boolean;
  encode(text: string, options?: { addBos?: boolean; parseSpecial?: boolean }): number[];
  decode(ids: readonly number[]): string;
  /** Decodes a stream of ids, holding back bytes of an incomplete UTF-8 character. */
  streamDecoder(): StreamDecoder;
  /** EOS and other end-of-generation tokens (<|im_end|>, <|endoftext|>, <|eot_id|>, ...). */
  isEndOfGeneration(id: number): boolean;
  /** The vocabulary entry as stored ("▁Once", "<0xE2>"); for a token's text as decoded, see StreamDecoder.peek. */
  tokenText(id: number): string;
}

export interface StreamDecoder {
  /** The text the token completes (a token may end inside a character, whose bytes then wait). */
  push(id: number): string;
  /**
   * What push(id) would return now, without taking the token: a token's text in this context, the
   * same for the token chosen and for its alternatives (logprobs).
   */
  peek(id: number): string;
  flush(): string;
}
