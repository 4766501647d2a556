import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from './api-error.ts';
import { parseChatRequest, parseCompletionRequest } from './openai-request.ts';

function rejects(parse: () => unknown, param: string | null, message: RegExp): void {
  assert.throws(parse, (error: unknown) => {
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 400);
    assert.equal(error.body().error.type, 'invalid_request_error');
    assert.equal(error.param, param);
    assert.match(error.message, message);
    return true;
  });
}

test('a completion request gets OpenAI defaults', () => {
  const parsed = parseCompletionRequest({ model: 'm', prompt: 'Once' });
  assert.deepEqual(parsed, {
    kind: 'completion',
    model: 'm',
    prompt: 'Once',
    maxTokens: 16,
    temperature: 1,
    topP: 1,
    seed: undefined,
    stop: [],
    stream: false,
    includeUsage: false,
    logprobs: false,
    topLogprobs: 0,
  });
});

test('completion options are read: logprobs as a count, stop as string or list, a one-prompt array', () => {
  const parsed = parseCompletionRequest({
    model: 'm',
    prompt: ['Once'],
    max_tokens: 5,
    temperature: 0,
    top_p: 0.5,
    seed: 7,
    stop: 'x',
    logprobs: 3,
    stream: true,
    stream_options: { include_usage: true },
  });
  assert.equal(parsed.prompt, 'Once');
  assert.deepEqual([parsed.maxTokens, parsed.temperature, parsed.topP, parsed.seed], [5, 0, 0.5, 7]);
  assert.deepEqual(parsed.stop, ['x']);
  assert.deepEqual([parsed.logprobs, parsed.topLogprobs, parsed.stream, parsed.includeUsage], [true, 3, true, true]);
  assert.deepEqual(parseCompletionRequest({ model: 'm', prompt: 'a', stop: ['x', 'y'] }).stop, ['x', 'y']);
});

test('a chat request reads messages, text parts, logprobs and top_logprobs', () => {
  const parsed = parseChatRequest({
    model: 'm',
    messages: [
      { role: 'system', content: 'Be brief.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Hi' },
          { type: 'text', text: '!' },
        ],
      },
    ],
    logprobs: true,
    top_logprobs: 2,
    max_completion_tokens: 9,
  });
  assert.deepEqual(parsed.messages, [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hi!' },
  ]);
  assert.deepEqual([parsed.logprobs, parsed.topLogprobs, parsed.maxTokens], [true, 2, 9]);
  assert.equal(parseChatRequest({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).maxTokens, undefined);
});

test('bad requests are named by their parameter', () => {
  rejects(() => parseCompletionRequest([]), null, /JSON object/);
  rejects(() => parseCompletionRequest({ prompt: 'x' }), 'model', /model/);
  rejects(() => parseCompletionRequest({ model: 'm', prompt: 3 }), 'prompt', /prompt must be a string/);
  rejects(() => parseCompletionRequest({ model: 'm', prompt: 'x', max_tokens: 0 }), 'max_tokens', /from 1/);
  rejects(() => parseCompletionRequest({ model: 'm', prompt: 'x', max_tokens: 2.5 }), 'max_tokens', /integer/);
  rejects(() => parseCompletionRequest({ model: 'm', prompt: 'x', temperature: 3 }), 'temperature', /from 0 to 2/);
  rejects(() => parseCompletionRequest({ model: 'm', prompt: 'x', n: 2 }), 'n', /n = 1/);
  rejects(
    () => parseCompletionRequest({ model: 'm', prompt: 'x', stop: ['a', 'b', 'c', 'd', 'e'] }),
    'stop',
    /at most 4/,
  );
  rejects(
    () => parseCompletionRequest({ model: 'm', prompt: 'x', stream_options: { include_usage: true } }),
    'stream_options',
    /stream: true/,
  );
  rejects(
    () => parseCompletionRequest({ model: 'm', prompt: 'x', frequency_penalty: 1 }),
    'frequency_penalty',
    /not supported/,
  );
  rejects(() => parseChatRequest({ model: 'm', messages: [] }), 'messages', /non-empty/);
  rejects(() => parseChatRequest({ model: 'm', messages: [{ content: 'x' }] }), 'messages[0].role', /role/);
  rejects(
    () => parseChatRequest({ model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url' }] }] }),
    'messages[0].content',
    /only text/,
  );
  rejects(
    () => parseChatRequest({ model: 'm', messages: [{ role: 'user', content: 'x' }], top_logprobs: 2 }),
    'top_logprobs',
    /logprobs: true/,
  );
});
