/**
 * OpenAI's response objects for the completion and chat endpoints, whole and as stream chunks. A
 * `Piece` is what one generated token contributes: the text it lets through (after stop strings)
 * and, when asked for, its log-probabilities.
 */
import type { FinishReason, GeneratedToken } from '../client/generation.ts';
import type { ParsedRequest } from './openai-request.ts';

export interface Piece {
  readonly text: string;
  /** Undefined for text that no token of its own produced (bytes the decoder held to the end). */
  readonly token?: GeneratedToken;
}

export interface UsageCounts {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
}

export function usageCounts(promptTokens: number, completionTokens: number): UsageCounts {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}

const utf8Bytes = (text: string) => [...Buffer.from(text, 'utf8')];

/** The legacy completions format: parallel arrays, alternatives as {text: logprob}. */
function completionLogprobs(pieces: readonly Piece[], startOffset: number) {
  const withTokens = pieces.filter((p) => p.token !== undefined);
  let offset = startOffset;
  const textOffset: number[] = [];
  for (const p of withTokens) {
    textOffset.push(offset);
    offset += p.token!.text.length;
  }
  return {
    tokens: withTokens.map((p) => p.token!.text),
    token_logprobs: withTokens.map((p) => p.token!.logprob),
    top_logprobs: withTokens.map((p) => Object.fromEntries(p.token!.top.map((t) => [t.text, t.logprob]))),
    text_offset: textOffset,
  };
}

function chatLogprobs(pieces: readonly Piece[]) {
  const withTokens = pieces.filter((p) => p.token !== undefined);
  return {
    content: withTokens.map((p) => ({
      token: p.token!.text,
      logprob: p.token!.logprob,
      bytes: utf8Bytes(p.token!.text),
      top_logprobs: p.token!.top.map((t) => ({ token: t.text, logprob: t.logprob, bytes: utf8Bytes(t.text) })),
    })),
    refusal: null,
  };
}

export interface ResponseContext {
  readonly id: string;
  readonly created: number;
  readonly request: ParsedRequest;
}

/** The whole answer of a non-streaming request. */
export function fullResponse(
  ctx: ResponseContext,
  pieces: readonly Piece[],
  finishReason: FinishReason,
  usage: UsageCounts,
) {
  const text = pieces.map((p) => p.text).join('');
  const { request } = ctx;
  if (request.kind === 'completion') {
    return {
      id: ctx.id,
      object: 'text_completion',
      created: ctx.created,
      model: request.model,
      choices: [
        {
          index: 0,
          text,
          logprobs: request.logprobs ? completionLogprobs(pieces, 0) : null,
          finish_reason: finishReason,
        },
      ],
      usage,
    };
  }
  return {
    id: ctx.id,
    object: 'chat.completion',
    created: ctx.created,
    model: request.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: text, refusal: null },
        logprobs: request.logprobs ? chatLogprobs(pieces) : null,
        finish_reason: finishReason,
      },
    ],
    usage,
  };
}

/**
 * One stream chunk: a piece of text (with its log-probabilities), or the last chunk of the choice
 * (`finishReason` set, no text). `textOffset` is where this piece starts in the whole completion.
 */
export function streamChunk(
  ctx: ResponseContext,
  piece: Piece | undefined,
  finishReason: FinishReason | null,
  textOffset: number,
) {
  const { request } = ctx;
  const pieces = piece ? [piece] : [];
  if (request.kind === 'completion') {
    return {
      id: ctx.id,
      object: 'text_completion',
      created: ctx.created,
      model: request.model,
      choices: [
        {
          index: 0,
          text: piece?.text ?? '',
          logprobs: request.logprobs && piece?.token ? completionLogprobs(pieces, textOffset) : null,
          finish_reason: finishReason,
        },
      ],
    };
  }
  return {
    id: ctx.id,
    object: 'chat.completion.chunk',
    created: ctx.created,
    model: request.model,
    choices: [
      {
        index: 0,
        delta: piece ? { content: piece.text } : {},
        logprobs: request.logprobs && piece?.token ? chatLogprobs(pieces) : null,
        finish_reason: finishReason,
      },
    ],
  };
}

/** The first chunk of a chat stream names the role, as OpenAI's does. */
export function chatRoleChunk(ctx: ResponseContext) {
  return {
    id: ctx.id,
    object: 'chat.completion.chunk',
    created: ctx.created,
    model: ctx.request.model,
    choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
  };
}

/** The usage chunk that stream_options.include_usage asks for: no choices. */
export function usageChunk(ctx: ResponseContext, usage: UsageCounts) {
  return {
    id: ctx.id,
    object: ctx.request.kind === 'completion' ? 'text_completion' : 'chat.completion.chunk',
    created: ctx.created,
    model: ctx.request.model,
    choices: [],
    usage,
  };
}
