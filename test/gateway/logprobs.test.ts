// Log-probabilities through the gateway's OpenAI API: the token chosen and its alternatives are named
// by the same text (the token as decoded in context, " Once" rather than the vocabulary's "▁Once"),
// with the same bytes, so a client can find the chosen token among the alternatives.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startGateway, type GatewayHandle } from '../../src/gateway/gateway.ts';
import { startInProcessNetwork, type InProcessNetwork } from '../support/network.ts';

const PROMPT = 'Once upon a time';
/** The vocabulary's word-start mark, which decoded text never contains. */
const WORD_START = '\u2581';
let network: InProcessNetwork;
let gateway: GatewayHandle;
let openai: OpenAI;
let model: string;

before(async () => {
  network = await startInProcessNetwork({ shards: 2 });
  model = network.manifest.modelId;
  gateway = await startGateway({ registries: [network.registry.endpoint], port: 0, cacheDir: join(network.dir, 'c') });
  openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  await gateway?.close();
  await network?.close();
});

const utf8 = (text: string) => [...Buffer.from(text, 'utf8')];

test('a chat completion names each greedy token and its best alternative alike, in text and bytes', async () => {
  const chat = await openai.chat.completions.create({
    model,
    messages: [{ role: 'user', content: PROMPT }],
    max_tokens: 16,
    temperature: 0,
    logprobs: true,
    top_logprobs: 3,
  });
  const content = chat.choices[0]!.logprobs!.content!;
  assert.equal(content.length, 16);
  assert.equal(content.map((c) => c.token).join(''), chat.choices[0]!.message.content);
  // greedy: the token chosen is the most likely one, the first alternative
  for (const c of content) {
    assert.deepEqual(
      { token: c.top_logprobs[0]!.token, bytes: c.top_logprobs[0]!.bytes, logprob: c.top_logprobs[0]!.logprob },
      { token: c.token, bytes: c.bytes, logprob: c.logprob },
    );
    assert.deepEqual(c.bytes, utf8(c.token));
    for (const alternative of c.top_logprobs) {
      assert.ok(!alternative.token.includes(WORD_START), JSON.stringify(alternative));
      assert.deepEqual(alternative.bytes, utf8(alternative.token));
    }
  }
  // the case reported: tokens that start a word, whose vocabulary entries start with the mark
  assert.ok(
    content.some((c) => c.token.startsWith(' ')),
    content.map((c) => c.token).join('|'),
  );
});

test('a completion lists each greedy token among its alternatives under the same text', async () => {
  const completion = await openai.completions.create({
    model,
    prompt: PROMPT,
    max_tokens: 16,
    temperature: 0,
    logprobs: 2,
  });
  const logprobs = completion.choices[0]!.logprobs!;
  assert.equal(logprobs.tokens!.join(''), completion.choices[0]!.text);
  assert.ok(logprobs.tokens!.some((t) => t.startsWith(' ')));
  logprobs.tokens!.forEach((token, i) => {
    const top = logprobs.top_logprobs![i]!;
    assert.equal(top[token], logprobs.token_logprobs![i], `${JSON.stringify(token)} among ${JSON.stringify(top)}`);
    assert.ok(
      Object.keys(top).every((t) => !t.includes(WORD_START)),
      JSON.stringify(top),
    );
  });
});
