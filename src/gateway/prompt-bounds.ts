import type { Tokenizer } from '../model/tokenizer/tokenizer.ts';
import { ApiError, badRequest } from './api-error.ts';
import type { ParsedRequest } from './openai-request.ts';

/** Characters tokenized between two yields to the event loop: a few milliseconds at most. */
const CHUNK_CHARS = 512;
/**
 * Tokens a chunk boundary may add or save against tokenizing the whole text (a merge across the
 * cut, a word-start marker); the early refusal allows this much so it never refuses what fits.
 */
const SLACK_TOKENS_PER_CHUNK = 2;

const paramOf = (request: ParsedRequest) => (request.kind === 'chat' ? 'messages' : 'prompt');

/** The text a request's prompt is made of: the prompt, or the messages' roles and contents. */
export function promptText(request: ParsedRequest): string {
  if (request.prompt !== undefined) return request.prompt;
  return (request.messages ?? []).map((m) => `${m.role}\n${m.content}`).join('\n');
}

/** Refuses a prompt longer than `maxChars` characters, before any tokenizing. */
export function checkPromptChars(request: ParsedRequest, maxChars: number): void {
  const chars =
    request.prompt !== undefined
      ? request.prompt.length
      : (request.messages ?? []).reduce((sum, m) => sum + m.role.length + m.content.length, 0);
  if (chars > maxChars)
    throw badRequest(
      `the ${paramOf(request)} has ${chars} characters; this gateway takes at most ${maxChars}`,
      paramOf(request),
      'PROMPT_TOO_LONG',
    );
}

/** Where to cut `text` near `end`: after a whitespace if there is one nearby, never inside a surrogate pair. */
function cutAt(text: string, start: number, end: number): number {
  if (end >= text.length) return text.length;
  const space = text.lastIndexOf(' ', end);
  if (space > start + CHUNK_CHARS / 2) return space;
  const code = text.charCodeAt(end - 1);
  return code >= 0xd800 && code <= 0xdbff ? end + 1 : end;
}

/**
 * Refuses a prompt that cannot fit `contextLength` tokens, tokenizing it in chunks with a yield to
 * the event loop after each and stopping once it is surely too long: a long prompt neither blocks
 * other requests (/healthz answers meanwhile) nor costs more than about a context's worth of work.
 * A prompt that passes is tokenized exactly by the client; this check only decides early refusals.
 */
export async function checkPromptTokens(
  request: ParsedRequest,
  tokenizer: Tokenizer,
  contextLength: number,
  yieldToLoop: () => Promise<void> = () => new Promise((resolve) => setImmediate(resolve)),
): Promise<void> {
  const text = promptText(request);
  let tokens = 0;
  let chunks = 0;
  for (let start = 0; start < text.length;) {
    const end = cutAt(text, start, start + CHUNK_CHARS);
    tokens += tokenizer.encode(text.slice(start, end), { addBos: false }).length;
    chunks++;
    start = end;
    if (tokens - SLACK_TOKENS_PER_CHUNK * chunks >= contextLength)
      throw new ApiError(
        'CONTEXT_LENGTH_EXCEEDED',
        'invalid',
        `the ${paramOf(request)} has more than ${contextLength} tokens, all this model's context holds, leaving no room to generate`,
        { param: paramOf(request) },
      );
    if (start < text.length) await yieldToLoop();
  }
}
