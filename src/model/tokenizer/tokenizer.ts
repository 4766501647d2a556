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
  /** The vocabulary entry as stored (for display and logprobs). */
  tokenText(id: number): string;
}

export interface StreamDecoder {
  push(id: number): string;
  flush(): string;
}
