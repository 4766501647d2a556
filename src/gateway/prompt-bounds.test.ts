import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testModel } from '../../test/support/models.ts';
import { openTokenizerFile } from '../model/shards/tokenizer-file.ts';
import { ApiError } from './api-error.ts';
import { parseChatRequest, parseCompletionRequest } from './openai-request.ts';
import { checkPromptChars, checkPromptTokens } from './prompt-bounds.ts';

const { tokenizer } = openTokenizerFile(testModel('stories260K.gguf'));
const STORY = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the sun. ';
const completion = (prompt: string) => parseCompletionRequest({ model: 'm', prompt });

function refusedWith(code: string, param: string) {
  return (error: unknown) => {
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 400);
    assert.equal(error.code, code);
    assert.equal(error.param, param);
    return true;
  };
}

test('a prompt over the character bound is refused before any tokenizing; a chat counts roles and contents', () => {
  checkPromptChars(completion('x'.repeat(100)), 100);
  assert.throws(() => checkPromptChars(completion('x'.repeat(101)), 100), refusedWith('PROMPT_TOO_LONG', 'prompt'));
  const chat = parseChatRequest({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(97) }] });
  assert.throws(() => checkPromptChars(chat, 100), refusedWith('PROMPT_TOO_LONG', 'messages'));
  checkPromptChars(chat, 101);
});

test('counting in chunks never refuses a prompt that fits, and refuses one that surely does not', async () => {
  const text = STORY.repeat(400);
  const exact = tokenizer.encode(text, { addBos: false }).length;
  await checkPromptTokens(completion(text), tokenizer, exact + 1);
  await assert.rejects(
    checkPromptTokens(completion(text), tokenizer, Math.floor(exact / 2)),
    refusedWith('CONTEXT_LENGTH_EXCEEDED', 'prompt'),
  );
  // no whitespace to cut at, and characters outside the BMP on the cuts
  const dense = '😀a'.repeat(5000);
  const denseTokens = tokenizer.encode(dense, { addBos: false }).length;
  await checkPromptTokens(completion(dense), tokenizer, denseTokens + 1);
});

test('a long prompt is tokenized with yields: other work runs before the check ends', async () => {
  const events: string[] = [];
  const check = checkPromptTokens(completion(STORY.repeat(2000)), tokenizer, 10_000_000).then(() =>
    events.push('checked'),
  );
  // a macrotask queued after the check began: it runs first only if the check yields to the event loop
  setImmediate(() => events.push('other request'));
  await check;
  assert.deepEqual(events, ['other request', 'checked']);
});

test('a prompt far over the context is refused after about a context worth of tokenizing', async () => {
  let chunks = 0;
  await assert.rejects(
    checkPromptTokens(completion(STORY.repeat(10_000)), tokenizer, 512, async () => void chunks++),
    refusedWith('CONTEXT_LENGTH_EXCEEDED', 'prompt'),
  );
  // 512 tokens of this text are about 2000 characters: a handful of the text's 1800 chunks
  assert.ok(chunks <= 8, `${chunks} chunks tokenized`);
});
