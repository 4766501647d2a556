// The OpenAI-compatible gateway on a real network (registry + 2 shard nodes on 127.0.0.1), driven by
// the official `openai` client, against the engine in one process.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import OpenAI from 'openai';
import { renderChat } from '../../src/model/chat-template.ts';
import { startGateway, type GatewayHandle } from '../../src/gateway/gateway.ts';
import { localGreedy, type LocalRun } from '../support/local-reference.ts';
import { startInProcessNetwork, type InProcessNetwork } from '../support/network.ts';

const PROMPT = 'Once upon a time';
let network: InProcessNetwork;
let gateway: GatewayHandle;
let openai: OpenAI;
let reference: LocalRun;
let model: string;

before(async () => {
  network = await startInProcessNetwork({ shards: 2, unservedModel: 'nobody-serves-me' });
  model = network.manifest.modelId;
  gateway = await startGateway({
    registries: [network.registry.endpoint],
    port: 0,
    cacheDir: join(network.dir, 'client'),
  });
  openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  reference = await localGreedy(PROMPT, 24, 3);
});

after(async () => {
  await gateway?.close();
  await network?.close();
});

test('models lists what the registries serve', async () => {
  const page = await openai.models.list();
  assert.deepEqual(page.data.map((m) => m.id).sort(), ['nobody-serves-me', model].sort());
  assert.ok(page.data.every((m) => m.object === 'model' && m.owned_by === 'tessera'));
  assert.equal((await openai.models.retrieve(model)).id, model);
});

test('a greedy completion equals the engine in one process, with usage counts', async () => {
  const completion = await openai.completions.create({ model, prompt: PROMPT, max_tokens: 24, temperature: 0 });
  assert.equal(completion.object, 'text_completion');
  assert.equal(completion.choices[0]!.text, reference.text);
  assert.equal(completion.choices[0]!.finish_reason, 'length');
  const promptTokens = reference.tokenizer.encode(PROMPT).length;
  assert.deepEqual(completion.usage, {
    prompt_tokens: promptTokens,
    completion_tokens: 24,
    total_tokens: promptTokens + 24,
  });
});

test('a streamed completion carries the same text, then the finish reason and usage', async () => {
  const stream = await openai.completions.create({
    model,
    prompt: PROMPT,
    max_tokens: 24,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  const finishReasons: (string | null)[] = [];
  let usage;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      text += choice.text;
      finishReasons.push(choice.finish_reason);
    }
  }
  assert.equal(text, reference.text);
  assert.equal(finishReasons.at(-1), 'length');
  assert.ok(finishReasons.slice(0, -1).every((r) => r === null));
  assert.equal(usage?.completion_tokens, 24);
});

test("completion logprobs are the model's, with the requested number of alternatives", async () => {
  const completion = await openai.completions.create({
    model,
    prompt: PROMPT,
    max_tokens: 24,
    temperature: 0,
    logprobs: 3,
  });
  const logprobs = completion.choices[0]!.logprobs!;
  assert.equal(logprobs.tokens!.length, 24);
  assert.deepEqual(
    logprobs.tokens,
    reference.tokens.map((t) => t.text),
  );
  // the network sends log-probabilities as 32-bit floats
  assert.deepEqual(
    logprobs.token_logprobs,
    reference.tokens.map((t) => Math.fround(t.logprob)),
  );
  assert.ok(logprobs.top_logprobs!.every((top) => Object.keys(top).length === 3));
  assert.deepEqual(logprobs.text_offset!.slice(0, 3), [
    0,
    reference.tokens[0]!.text.length,
    reference.tokens[0]!.text.length + reference.tokens[1]!.text.length,
  ]);
});

test('a stop string ends the completion before it, with finish reason stop', async () => {
  const stop = reference.text.slice(reference.text.indexOf(' ', 10), reference.text.indexOf(' ', 10) + 4);
  const completion = await openai.completions.create({
    model,
    prompt: PROMPT,
    max_tokens: 24,
    temperature: 0,
    stop: [stop],
  });
  assert.equal(completion.choices[0]!.text, reference.text.slice(0, reference.text.indexOf(stop)));
  assert.equal(completion.choices[0]!.finish_reason, 'stop');
});

test('a chat completion renders the conversation and answers it, streamed and not, with logprobs', async () => {
  const messages = [{ role: 'user' as const, content: PROMPT }];
  // stories260K has no chat template: the prompt is the plain transcript
  const chatPrompt = renderChat(undefined, messages, { addGenerationPrompt: true });
  const expected = await localGreedy(chatPrompt, 16);
  const chat = await openai.chat.completions.create({
    model,
    messages,
    max_tokens: 16,
    temperature: 0,
    logprobs: true,
    top_logprobs: 2,
  });
  assert.equal(chat.object, 'chat.completion');
  assert.equal(chat.choices[0]!.message.role, 'assistant');
  assert.equal(chat.choices[0]!.message.content, expected.text);
  assert.equal(chat.usage?.prompt_tokens, expected.tokenizer.encode(chatPrompt).length);
  assert.equal(chat.usage?.completion_tokens, 16);
  const content = chat.choices[0]!.logprobs!.content!;
  assert.equal(content.length, 16);
  assert.ok(content.every((c) => c.top_logprobs.length === 2 && c.logprob <= 0 && Array.isArray(c.bytes)));

  const stream = await openai.chat.completions.create({
    model,
    messages,
    max_tokens: 16,
    temperature: 0,
    stream: true,
  });
  let text = '';
  const roles: string[] = [];
  let finish: string | null = null;
  for await (const chunk of stream) {
    const choice = chunk.choices[0]!;
    if (choice.delta.role) roles.push(choice.delta.role);
    text += choice.delta.content ?? '';
    finish = choice.finish_reason ?? finish;
  }
  assert.deepEqual(roles, ['assistant']);
  assert.equal(text, expected.text);
  assert.equal(finish, 'length');
});

test("errors come in OpenAI's shape with the right status", async () => {
  await assert.rejects(
    openai.completions.create({ model: 'no-such-model', prompt: PROMPT, max_tokens: 4 }),
    (error: unknown) => {
      assert.ok(error instanceof OpenAI.NotFoundError);
      assert.equal(error.status, 404);
      assert.equal(error.code, 'model_not_found');
      assert.equal(error.param, 'model');
      assert.equal(error.type, 'invalid_request_error');
      return true;
    },
  );
  await assert.rejects(openai.completions.create({ model, prompt: PROMPT, max_tokens: 0 }), (error: unknown) => {
    assert.ok(error instanceof OpenAI.BadRequestError);
    assert.equal(error.param, 'max_tokens');
    return true;
  });
  await assert.rejects(
    openai.chat.completions.create({ model: 'nobody-serves-me', messages: [{ role: 'user', content: 'hi' }] }),
    (error: unknown) => {
      assert.ok(error instanceof OpenAI.APIError);
      assert.equal(error.status, 503);
      assert.equal(error.code, 'no_route');
      assert.match(error.message, /shard 0 has no live node/);
      return true;
    },
  );
  const unknown = await fetch(`${gateway.url}/v1/embeddings`, { method: 'POST', body: '{}' });
  assert.equal(unknown.status, 404);
  assert.deepEqual(await unknown.json(), {
    error: {
      message: 'Unknown request URL: POST /v1/embeddings',
      type: 'invalid_request_error',
      param: null,
      code: 'unknown_url',
    },
  });
  const malformed = await fetch(`${gateway.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"model":',
  });
  assert.equal(malformed.status, 400);
  assert.match(
    ((await malformed.json()) as { error: { message: string } }).error.message,
    /could not parse the JSON body/,
  );
});

test('the SSE stream is data lines ending with [DONE]; healthz answers', async () => {
  const response = await fetch(`${gateway.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, prompt: PROMPT, max_tokens: 3, temperature: 0, stream: true }),
  });
  assert.equal(response.headers.get('content-type'), 'text/event-stream');
  const events = (await response.text()).split('\n\n').filter((e) => e !== '');
  assert.ok(events.every((e) => e.startsWith('data: ')));
  assert.equal(events.at(-1), 'data: [DONE]');
  assert.equal(events.length, 3 + 1 + 1);
  const health = await fetch(`${gateway.url}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { status: string }).status, 'ok');
});

test('with API keys the official client authenticates with its apiKey, and a wrong key is an AuthenticationError', async (t) => {
  const keyed = await startGateway({
    registries: [network.registry.endpoint],
    port: 0,
    cacheDir: join(network.dir, 'client'),
    apiKeys: ['sk-test-key'],
  });
  t.after(() => keyed.close());
  const good = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: 'sk-test-key', maxRetries: 0 });
  const completion = await good.completions.create({ model, prompt: PROMPT, max_tokens: 3, temperature: 0 });
  assert.equal(completion.usage?.completion_tokens, 3);
  const wrong = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: 'sk-wrong', maxRetries: 0 });
  await assert.rejects(wrong.models.list(), (error: unknown) => {
    assert.ok(error instanceof OpenAI.AuthenticationError);
    assert.equal(error.code, 'invalid_api_key');
    return true;
  });
});

test('a flood past the line is a RateLimitError with Retry-After, which the official client understands', async (t) => {
  const narrow = await startGateway({
    registries: [network.registry.endpoint],
    port: 0,
    cacheDir: join(network.dir, 'client'),
    maxConcurrent: 1,
    maxQueue: 0,
  });
  t.after(() => narrow.close());
  const client = new OpenAI({ baseURL: `${narrow.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const holder = await client.completions.create({
    model,
    prompt: PROMPT,
    max_tokens: 400,
    temperature: 0,
    stream: true,
  });
  const chunks = holder[Symbol.asyncIterator]();
  // the first chunk arrived: the one slot is taken until the stream ends
  assert.equal((await chunks.next()).done, false);
  await assert.rejects(client.completions.create({ model, prompt: PROMPT, max_tokens: 2 }), (error: unknown) => {
    assert.ok(error instanceof OpenAI.RateLimitError);
    assert.equal(error.code, 'queue_full');
    assert.match(error.headers?.get('retry-after') ?? '', /^[1-9][0-9]*$/);
    return true;
  });
  for (let next = await chunks.next(); !next.done; next = await chunks.next());
  const after = await client.completions.create({ model, prompt: PROMPT, max_tokens: 2, temperature: 0 });
  assert.equal(after.usage?.completion_tokens, 2);
});
