// Fuzzes the gateway's request parsing, bytes to ParsedRequest: random and mutated JSON bodies and
// request targets either parse or fail with the gateway's own 400, never with anything else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { seededRandom } from '../../test/support/fuzz.ts';
import { ApiError } from './api-error.ts';
import { parseChatRequest, parseCompletionRequest } from './openai-request.ts';
import { decodeSegment, readJsonBody, requestPath } from './request-body.ts';

const SEED = 0x7e55e7a;
const RUNS = 3000;

const FIELDS = [
  'model',
  'prompt',
  'messages',
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'top_p',
  'seed',
  'stop',
  'stream',
  'stream_options',
  'include_usage',
  'n',
  'presence_penalty',
  'frequency_penalty',
  'echo',
  'suffix',
  'logprobs',
  'top_logprobs',
  'role',
  'content',
  'type',
  'text',
  '__proto__',
  'constructor',
];

function generator(next: () => number) {
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const string = () =>
    pick(['', 'm', 'user', 'text', 'Once upon', '\u0000', '\ud800', '😀', 'x'.repeat(int(300)), String(next())]);
  const number = () =>
    pick([0, 1, -1, 0.5, 2, 2.0000001, 20, 21, 2 ** 32, -(2 ** 53), 1e308, Number.MAX_SAFE_INTEGER, int(100)]);
  const value = (depth: number): unknown => {
    switch (int(depth > 3 ? 5 : 7)) {
      case 0:
        return null;
      case 1:
        return next() < 0.5;
      case 2:
        return number();
      case 3:
      case 4:
        return string();
      case 5:
        return Array.from({ length: int(4) }, () => value(depth + 1));
      default:
        return Object.fromEntries(Array.from({ length: int(6) }, () => [pick(FIELDS), value(depth + 1)]));
    }
  };
  const validBody = () =>
    pick([
      { model: 'm', prompt: 'Once', max_tokens: 4, temperature: 0, stop: ['.'], logprobs: 2 },
      { model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], logprobs: true },
      { model: 'm', prompt: ['Once'], stream: true, stream_options: { include_usage: true }, seed: 7 },
    ]);
  /** A body's bytes cut, flipped, spliced or stuffed. */
  const mutate = (bytes: Buffer): Buffer => {
    const out = Buffer.from(bytes);
    for (let i = int(4); i >= 0; i--) {
      const at = int(out.length);
      switch (int(4)) {
        case 0:
          return out.subarray(0, at);
        case 1:
          out[at] = int(256);
          break;
        case 2:
          out[at] = pick([...Buffer.from('{}[]",:0-e.\\u')]);
          break;
        default:
          return Buffer.concat([out.subarray(0, at), Buffer.from(JSON.stringify(value(2))), out.subarray(at)]);
      }
    }
    return out;
  };
  const body = (): Buffer => {
    switch (int(4)) {
      case 0:
        return Buffer.from(JSON.stringify(value(0)) ?? 'undefined');
      case 1:
        return Buffer.from(JSON.stringify({ ...validBody(), [pick(FIELDS)]: value(1) }));
      case 2:
        return Buffer.from(Array.from({ length: int(64) }, () => int(256)));
      default:
        return mutate(Buffer.from(JSON.stringify(validBody())));
    }
  };
  const target = (): string => {
    const parts = Array.from({ length: int(6) }, () =>
      pick([
        '/v1/models/',
        '%',
        `%${int(256).toString(16)}`,
        '%E0%A4%A',
        '%F0%9F',
        '%C0%AF',
        '%ZZ',
        '//',
        '..',
        '?',
        '#',
        '[',
        '@',
        ':',
        'http://',
        '\\',
        String.fromCharCode(int(0x80)),
        string(),
      ]),
    );
    return pick(['', '/', 'http://', '/v1/models/']) + parts.join('');
  };
  return { body, target, next: int };
}

/** Whether `run` either returns or throws the gateway's own error with one of `statuses`. */
async function parsesOrRefuses(run: () => unknown, statuses: readonly number[], replay: string): Promise<void> {
  try {
    await run();
  } catch (error) {
    assert.ok(error instanceof ApiError, `${replay}: not the gateway's own error: ${(error as Error)?.stack}`);
    assert.ok(statuses.includes(error.status), `${replay}: status ${error.status}`);
    assert.match(error.code, /^[A-Z][A-Z0-9_]*$/, replay);
    assert.ok(error.message.length > 0, replay);
  }
}

function requestOf(bytes: Buffer, declaredLength: boolean): IncomingMessage {
  const stream = Readable.from(bytes.length === 0 ? [] : [bytes]);
  return Object.assign(stream, {
    headers: declaredLength ? { 'content-length': String(bytes.length) } : {},
  }) as unknown as IncomingMessage;
}

test(`random and mutated bodies parse or are refused with 400 (seed ${SEED}, ${RUNS} runs)`, async () => {
  const gen = generator(seededRandom(SEED));
  const outcomes = { parsed: 0, refused: 0 };
  for (let run = 0; run < RUNS; run++) {
    const bytes = gen.body();
    const parse = gen.next(2) === 0 ? parseCompletionRequest : parseChatRequest;
    const replay = `run ${run}, body ${JSON.stringify(bytes.toString('latin1'))}`;
    let parsed = false;
    await parsesOrRefuses(
      async () => {
        parse(await readJsonBody(requestOf(bytes, gen.next(2) === 0), 1 << 16));
        parsed = true;
      },
      [400],
      replay,
    );
    outcomes[parsed ? 'parsed' : 'refused']++;
  }
  // the generator reaches both sides, or it tests nothing
  assert.ok(outcomes.parsed > RUNS / 50, JSON.stringify(outcomes));
  assert.ok(outcomes.refused > RUNS / 2, JSON.stringify(outcomes));
});

test(`random request targets and model ids decode or are refused with 400 (seed ${SEED}, ${RUNS} runs)`, async () => {
  const gen = generator(seededRandom(SEED + 1));
  for (let run = 0; run < RUNS; run++) {
    const target = gen.target();
    await parsesOrRefuses(
      () => {
        const path = requestPath(target);
        if (path.startsWith('/v1/models/')) decodeSegment(path.slice('/v1/models/'.length));
      },
      [400],
      `run ${run}, target ${JSON.stringify(target)}`,
    );
  }
});

test('the bodies and targets attackers sent are refused precisely', async () => {
  assert.throws(
    () => decodeSegment('%E0%A4%A'),
    (e: unknown) => e instanceof ApiError && e.code === 'INVALID_URL',
  );
  await assert.rejects(
    readJsonBody(requestOf(Buffer.from('{"model":'), false), 1024),
    (e: unknown) => e instanceof ApiError && e.status === 400 && e.code === 'INVALID_JSON',
  );
  await assert.rejects(
    readJsonBody(requestOf(Buffer.from([0x7b, 0xff, 0x7d]), false), 1024),
    (e: unknown) => e instanceof ApiError && e.code === 'INVALID_JSON' && /UTF-8/.test(e.message),
  );
  for (const declared of [true, false])
    await assert.rejects(
      readJsonBody(requestOf(Buffer.alloc(2048, 0x20), declared), 1024),
      (e: unknown) => e instanceof ApiError && e.status === 413 && e.code === 'BODY_TOO_LARGE',
    );
});
