import type { ChatMessage } from '../model/chat-template.ts';
import { badRequest } from './api-error.ts';

/** A completion or chat request, checked and with OpenAI's defaults filled in. */
export interface ParsedRequest {
  readonly kind: 'completion' | 'chat';
  readonly model: string;
  readonly prompt?: string;
  readonly messages?: readonly ChatMessage[];
  /** Undefined: as many as the context holds. */
  readonly maxTokens?: number;
  readonly temperature: number;
  readonly topP: number;
  readonly seed?: number;
  readonly stop: readonly string[];
  readonly stream: boolean;
  /** stream_options.include_usage: a last chunk with the usage counts. */
  readonly includeUsage: boolean;
  /** Whether to report log-probabilities, and how many alternatives per token. */
  readonly logprobs: boolean;
  readonly topLogprobs: number;
}

type Body = Record<string, unknown>;

/** Most alternatives per token we report (OpenAI allows 5 for completions, 20 for chat). */
const MAX_TOP_LOGPROBS = 20;
const MAX_STOP_SEQUENCES = 4;

function optionalNumber(body: Body, name: string, min: number, max: number): number | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw badRequest(`${name} must be a number from ${min} to ${max}, got ${JSON.stringify(value)}`, name);
  }
  return value;
}

function optionalInteger(body: Body, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const value = optionalNumber(body, name, min, max);
  if (value !== undefined && !Number.isInteger(value))
    throw badRequest(`${name} must be an integer, got ${value}`, name);
  return value;
}

function optionalBoolean(body: Body, name: string): boolean | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw badRequest(`${name} must be true or false, got ${JSON.stringify(value)}`, name);
  return value;
}

function parseStop(body: Body): string[] {
  const stop = body.stop;
  if (stop === undefined || stop === null) return [];
  const list = typeof stop === 'string' ? [stop] : stop;
  if (
    !Array.isArray(list) ||
    list.length > MAX_STOP_SEQUENCES ||
    !list.every((s) => typeof s === 'string' && s !== '')
  ) {
    throw badRequest(
      `stop must be a non-empty string or an array of at most ${MAX_STOP_SEQUENCES} non-empty strings`,
      'stop',
    );
  }
  return list as string[];
}

/** What both endpoints share: model, sampling, stop, streaming, and the options we do not serve. */
function parseCommon(body: Body) {
  if (typeof body.model !== 'string' || body.model === '')
    throw badRequest('you must provide a model parameter', 'model');
  const n = optionalInteger(body, 'n', 1);
  if (n !== undefined && n !== 1) throw badRequest('only n = 1 is supported', 'n', 'UNSUPPORTED_PARAMETER');
  for (const name of ['presence_penalty', 'frequency_penalty']) {
    if ((optionalNumber(body, name, -2, 2) ?? 0) !== 0)
      throw badRequest(`${name} is not supported (use 0)`, name, 'UNSUPPORTED_PARAMETER');
  }
  const streamOptions = body.stream_options;
  if (
    streamOptions !== undefined &&
    streamOptions !== null &&
    (typeof streamOptions !== 'object' || Array.isArray(streamOptions))
  ) {
    throw badRequest('stream_options must be an object', 'stream_options');
  }
  const stream = optionalBoolean(body, 'stream') ?? false;
  const includeUsage = optionalBoolean((streamOptions ?? {}) as Body, 'include_usage') ?? false;
  if (includeUsage && !stream) throw badRequest('stream_options is only allowed with stream: true', 'stream_options');
  return {
    model: body.model,
    temperature: optionalNumber(body, 'temperature', 0, 2) ?? 1,
    topP: optionalNumber(body, 'top_p', 0, 1) ?? 1,
    seed: optionalInteger(body, 'seed', 0, 2 ** 32 - 1),
    stop: parseStop(body),
    stream,
    includeUsage,
  };
}

function asBody(value: unknown): Body {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw badRequest('the request body must be a JSON object', null, 'INVALID_BODY');
  return value as Body;
}

/** POST /v1/completions. */
export function parseCompletionRequest(value: unknown): ParsedRequest {
  const body = asBody(value);
  const common = parseCommon(body);
  let prompt = body.prompt;
  if (Array.isArray(prompt) && prompt.length === 1) prompt = prompt[0];
  if (typeof prompt !== 'string') throw badRequest('prompt must be a string (one prompt per request)', 'prompt');
  if (optionalBoolean(body, 'echo')) throw badRequest('echo is not supported', 'echo', 'UNSUPPORTED_PARAMETER');
  if (body.suffix !== undefined && body.suffix !== null)
    throw badRequest('suffix is not supported', 'suffix', 'UNSUPPORTED_PARAMETER');
  const logprobs = optionalInteger(body, 'logprobs', 0, MAX_TOP_LOGPROBS);
  return {
    ...common,
    kind: 'completion',
    prompt,
    // OpenAI's default for the legacy endpoint
    maxTokens: optionalInteger(body, 'max_tokens', 1) ?? 16,
    logprobs: logprobs !== undefined,
    topLogprobs: logprobs ?? 0,
  };
}

function messageContent(content: unknown, index: number): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part, j) => {
        const p = part as { type?: unknown; text?: unknown };
        if (p?.type !== 'text' || typeof p.text !== 'string')
          throw badRequest(
            `messages[${index}].content[${j}] must be a text part (only text is supported)`,
            `messages[${index}].content`,
          );
        return p.text;
      })
      .join('');
  }
  if (content === null || content === undefined) return '';
  throw badRequest(
    `messages[${index}].content must be a string or an array of text parts`,
    `messages[${index}].content`,
  );
}

/** POST /v1/chat/completions. */
export function parseChatRequest(value: unknown): ParsedRequest {
  const body = asBody(value);
  const common = parseCommon(body);
  if (!Array.isArray(body.messages) || body.messages.length === 0)
    throw badRequest('messages must be a non-empty array', 'messages');
  const messages = body.messages.map((m: unknown, i): ChatMessage => {
    const message = m as { role?: unknown; content?: unknown };
    if (typeof message !== 'object' || message === null || typeof message.role !== 'string' || message.role === '') {
      throw badRequest(`messages[${i}] must be an object with a role`, `messages[${i}].role`);
    }
    return { role: message.role, content: messageContent(message.content, i) };
  });
  const logprobs = optionalBoolean(body, 'logprobs') ?? false;
  const topLogprobs = optionalInteger(body, 'top_logprobs', 0, MAX_TOP_LOGPROBS);
  if (topLogprobs !== undefined && !logprobs) throw badRequest('top_logprobs requires logprobs: true', 'top_logprobs');
  return {
    ...common,
    kind: 'chat',
    messages,
    maxTokens: optionalInteger(body, 'max_completion_tokens', 1) ?? optionalInteger(body, 'max_tokens', 1),
    logprobs,
    topLogprobs: topLogprobs ?? 0,
  };
}
