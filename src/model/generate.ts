import { TesseraError } from '../core/errors.ts';
import type { Engine } from './engine.ts';
import type { KvCache } from './kv-cache.ts';
import { Sampler, type SamplingOptions, type TokenLogprob } from './sampling.ts';
import type { Tokenizer } from './tokenizer/tokenizer.ts';

export interface GenerateOptions extends SamplingOptions {
  readonly maxTokens: number;
  /** How many top alternatives to report per generated token (0: none). */
  readonly logprobs?: number;
  /** Bytes for the KV cache of this generation. */
  readonly cacheBytes?: number;
}

export interface GeneratedToken extends TokenLogprob {
  /** The text this token completes (may be empty while a UTF-8 character is incomplete). */
  readonly text: string;
  readonly top: readonly (TokenLogprob & { readonly text: string })[];
}

/** The prompt leaves no room in the model's context to generate (or is empty). */
export class ContextLengthError extends TesseraError {
  constructor(message: string) {
    super('CONTEXT_LENGTH_EXCEEDED', 'invalid', message);
  }
}

const DEFAULT_CACHE_BYTES = 512 * 1024 * 1024;

/**
 * Greedy or sampled continuation of `promptIds` with a whole-model engine, one token at a time.
 * Stops at an end-of-generation token (not yielded) or after maxTokens; returns the text of bytes
 * still held by the UTF-8 decoder (empty unless generation ended inside a character).
 */
export function* generate(
  engine: Engine,
  tokenizer: Tokenizer,
  promptIds: readonly number[],
  options: GenerateOptions,
): Generator<GeneratedToken, string> {
  const { contextLength } = engine.config;
  if (promptIds.length === 0) throw new ContextLengthError('the prompt is empty: nothing to continue');
  if (promptIds.length >= contextLength) {
    throw new ContextLengthError(
      `the prompt has ${promptIds.length} tokens; the model's context holds ${contextLength}, leaving no room to generate`,
    );
  }
  const maxTokens = Math.min(options.maxTokens, contextLength - promptIds.length);
  const cache: KvCache = engine.createCache(options.cacheBytes ?? DEFAULT_CACHE_BYTES);
  const sampler = new Sampler(options);
  const decoder = tokenizer.streamDecoder();
  const history = [...promptIds];
  try {
    let logits = engine.forward(cache, { tokens: promptIds }, 0).logits!;
    for (let produced = 0; produced < maxTokens; produced++) {
      const sampled = sampler.sample(logits, history, options.logprobs ?? 0);
      if (tokenizer.isEndOfGeneration(sampled.id)) break;
      history.push(sampled.id);
      // the alternatives decoded in the context the chosen token is, before it moves the decoder on
      const top = sampled.top.map((t) => ({ ...t, text: decoder.peek(t.id) }));
      yield { id: sampled.id, logprob: sampled.logprob, text: decoder.push(sampled.id), top };
      if (produced + 1 < maxTokens)
        logits = engine.forward(cache, { tokens: [sampled.id] }, history.length - 1).logits!;
    }
    return decoder.flush();
  } finally {
    cache.release();
  }
}
