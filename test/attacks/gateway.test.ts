// Attacks on the OpenAI-compatible gateway, each against a real `tessera gateway` process on a real
// network (registry + 2 shard nodes on 127.0.0.1): malformed URLs and bodies, a web page spending
// the gateway (cross-origin POST, DNS rebinding), strangers without a key, a flood, a huge prompt.
// Each attack is refused with its precise status and code, nothing is generated for it, and an
// honest request made meanwhile succeeds.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startInProcessNetwork, type InProcessNetwork } from '../support/network.ts';

const TESSERA = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));
const HONEST_KEY = 'sk-honest-0123456789';
/** The attacker's own key: strangers can get one, so the attacks below do not depend on lacking one. */
const ATTACKER_KEY = 'sk-attacker-9876543210';

interface GatewayProcess {
  readonly url: string;
  readonly port: number;
  readonly metricsUrl: string;
  readonly child: ChildProcess;
  readonly exited: Promise<unknown>;
}

/** `tessera gateway ARGS` in its own process; resolves once it serves, with its URL and metrics URL. */
async function spawnGateway(args: readonly string[]): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [TESSERA, 'gateway', '--port', '0', '--metrics-port', '0', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const tail: string[] = [];
  let metricsUrl = '';
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on('line', (line) => {
      tail.push(line);
      if (!line.startsWith('{')) return;
      const event = JSON.parse(line) as { event: string; url?: string };
      if (event.event === 'metrics_listening') metricsUrl = event.url!.replace(/\/metrics$/, '');
      if (event.event === 'gateway_started') resolve(event.url!);
    });
    void exited.then(() => reject(new Error(`the gateway exited before it started:\n${tail.join('\n')}`)));
  });
  return { url, port: Number(new URL(url).port), metricsUrl, child, exited };
}

async function stop(gateway: GatewayProcess | undefined): Promise<void> {
  if (!gateway || gateway.child.exitCode !== null) return;
  gateway.child.kill('SIGTERM');
  await gateway.exited;
}

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  readonly body: { error?: { message: string; type: string; code: string | null; param: string | null } } & Record<
    string,
    unknown
  >;
}

/** One HTTP request with exactly these headers (fetch would add or forbid some: Host, Origin). */
function call(
  gateway: GatewayProcess,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string | Buffer; signal?: AbortSignal } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: gateway.port,
        method,
        path,
        headers: { host: `127.0.0.1:${gateway.port}`, ...options.headers },
        signal: options.signal,
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.once('end', () => {
          let body = {};
          try {
            body = JSON.parse(text);
          } catch {
            // an event stream or an empty answer: the text says it
          }
          resolve({ status: res.statusCode!, headers: res.headers, text, body });
        });
      },
    );
    req.once('error', reject);
    req.end(options.body);
  });
}

const json = (key: string | undefined, extra: Record<string, string> = {}) => ({
  'content-type': 'application/json',
  ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
  ...extra,
});

let network: InProcessNetwork;
let model: string;
/** With API keys, one slot and one place in line. */
let strict: GatewayProcess;
/** As `tessera up` starts it: no keys, as many slots as the network holds. */
let open: GatewayProcess;

function completion(prompt: string, maxTokens: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ model, prompt, max_tokens: maxTokens, temperature: 0, ...extra });
}

async function honestCompletion(gateway: GatewayProcess, key: string | undefined = HONEST_KEY): Promise<void> {
  const answer = await call(gateway, 'POST', '/v1/completions', {
    headers: json(key),
    body: completion('Once upon a time', 4),
  });
  assert.equal(answer.status, 200, answer.text);
  assert.equal((answer.body as { usage: { completion_tokens: number } }).usage.completion_tokens, 4);
}

/** One series of the gateway's metrics (0 when it has not been counted yet). */
async function metric(gateway: GatewayProcess, series: string): Promise<number> {
  const text = await (await fetch(`${gateway.metricsUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

const tokensGenerated = (gateway: GatewayProcess) => metric(gateway, 'tessera_gateway_tokens_generated_total');

/** Polls the gateway's metrics until `series` reads `value` (bounded: fails after 200 reads). */
async function untilMetric(gateway: GatewayProcess, series: string, value: number): Promise<void> {
  for (let read = 0; read < 200; read++) {
    if ((await metric(gateway, series)) === value) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.fail(`${series} never reached ${value}`);
}

function refused(answer: Answer, status: number, code: string): void {
  assert.equal(answer.status, status, answer.text);
  assert.equal(answer.body.error?.code, code, answer.text);
  assert.equal(typeof answer.body.error?.message, 'string');
  assert.equal(typeof answer.body.error?.type, 'string');
}

before(async () => {
  network = await startInProcessNetwork({ shards: 2 });
  model = network.manifest.modelId;
  const keysFile = join(network.dir, 'api-keys');
  writeFileSync(keysFile, `# one key per client\n${HONEST_KEY}\n${ATTACKER_KEY}\n`, { mode: 0o600 });
  chmodSync(keysFile, 0o600);
  const registry = ['--registry', network.registry.endpoint];
  [strict, open] = await Promise.all([
    spawnGateway([
      ...registry,
      '--api-keys-file',
      keysFile,
      '--allow-origin',
      'https://app.example',
      '--max-concurrent',
      '1',
      '--max-queue',
      '1',
      '--max-prompt-chars',
      '300000',
    ]),
    spawnGateway(registry),
  ]);
});

after(async () => {
  await Promise.all([stop(strict), stop(open)]);
  await network?.close();
});

test('malformed URLs, percent-encodings, JSON and field types are 400 with a precise code, never 500', async () => {
  const before = await tokensGenerated(open);
  refused(await call(open, 'GET', '/v1/models/%E0%A4%A'), 400, 'invalid_url');
  refused(await call(open, 'GET', '/v1/models/%C0%AF'), 400, 'invalid_url');
  refused(await call(open, 'GET', '/v1/models/%'), 400, 'invalid_url');
  const post = (body: string | Buffer) => call(open, 'POST', '/v1/completions', { headers: json(undefined), body });
  refused(await post('{"model":'), 400, 'invalid_json');
  refused(await post(''), 400, 'invalid_json');
  refused(await post(Buffer.from([0x7b, 0xc3, 0x28, 0x7d])), 400, 'invalid_json');
  refused(await post('[1, 2]'), 400, 'invalid_body');
  refused(await post(JSON.stringify({ model: 42, prompt: 'x' })), 400, 'invalid_parameter');
  const wrongType = await post(JSON.stringify({ model, prompt: 'x', max_tokens: '4' }));
  refused(wrongType, 400, 'invalid_parameter');
  assert.equal(wrongType.body.error?.param, 'max_tokens');
  refused(await post(JSON.stringify({ model, prompt: { text: 'x' } })), 400, 'invalid_parameter');
  refused(
    await call(open, 'POST', '/v1/chat/completions', {
      headers: json(undefined),
      body: JSON.stringify({ model, messages: [{ role: 'user', content: [{ type: 'image_url' }] }] }),
    }),
    400,
    'invalid_parameter',
  );
  assert.equal(await tokensGenerated(open), before);
  assert.equal((await call(open, 'GET', '/healthz')).status, 200);
  await honestCompletion(open, undefined);
});

test('a web page cannot spend the gateway: foreign Origin 403, text/plain and forms 415, rebinding Host 421', async () => {
  const before = await tokensGenerated(strict);
  const body = completion('Once upon a time', 4);
  // the attacker's page holds a valid key of its own: the refusal does not rest on it lacking one
  const fromPage = { authorization: `Bearer ${ATTACKER_KEY}`, origin: 'http://evil.example' };
  refused(
    await call(strict, 'POST', '/v1/completions', { headers: { ...fromPage, 'content-type': 'text/plain' }, body }),
    403,
    'origin_not_allowed',
  );
  refused(
    await call(strict, 'POST', '/v1/completions', { headers: json(ATTACKER_KEY, fromPage), body }),
    403,
    'origin_not_allowed',
  );
  refused(
    await call(strict, 'OPTIONS', '/v1/completions', { headers: { origin: 'http://evil.example' } }),
    403,
    'origin_not_allowed',
  );
  refused(await call(strict, 'GET', '/v1/models', { headers: { origin: 'null' } }), 403, 'origin_not_allowed');
  // no Origin at all (a form or a beacon whose origin is hidden): the body type alone refuses it
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x'])
    refused(
      await call(strict, 'POST', '/v1/completions', {
        headers: { authorization: `Bearer ${ATTACKER_KEY}`, 'content-type': type },
        body,
      }),
      415,
      'unsupported_media_type',
    );
  // DNS rebinding: attacker.example now resolves to 127.0.0.1, so the browser sends its name as Host
  for (const host of ['attacker.example', `attacker.example:${strict.port}`, `127.0.0.1.nip.io:${strict.port}`])
    refused(
      await call(strict, 'POST', '/v1/completions', { headers: json(ATTACKER_KEY, { host }), body }),
      421,
      'host_not_allowed',
    );
  refused(await call(strict, 'GET', '/healthz', { headers: { host: 'attacker.example' } }), 421, 'host_not_allowed');
  refused(await call(open, 'GET', '/v1/models', { headers: { host: 'attacker.example' } }), 421, 'host_not_allowed');
  assert.equal(await tokensGenerated(strict), before);

  // refused pages get no CORS headers; an allowed origin gets them for itself only
  const preflight = await call(strict, 'OPTIONS', '/v1/completions', { headers: { origin: 'https://app.example' } });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers['access-control-allow-origin'], 'https://app.example');
  assert.match(String(preflight.headers['access-control-allow-headers']), /authorization/);
  const allowed = await call(strict, 'POST', '/v1/completions', {
    headers: json(HONEST_KEY, { origin: 'https://app.example' }),
    body,
  });
  assert.equal(allowed.status, 200, allowed.text);
  assert.equal(allowed.headers['access-control-allow-origin'], 'https://app.example');
  const local = await call(strict, 'GET', '/v1/models', {
    headers: {
      authorization: `Bearer ${HONEST_KEY}`,
      origin: 'http://localhost:3000',
      host: `localhost:${strict.port}`,
    },
  });
  assert.equal(local.status, 200, local.text);
  assert.equal(local.headers['access-control-allow-origin'], 'http://localhost:3000');
  await honestCompletion(strict);
});

test('with API keys, every /v1 route needs one (401 in OpenAI shape); /healthz and /metrics stay open', async () => {
  const before = await tokensGenerated(strict);
  const body = completion('Once upon a time', 4);
  const missing = await call(strict, 'POST', '/v1/completions', { headers: json(undefined), body });
  refused(missing, 401, 'missing_api_key');
  assert.equal(missing.body.error?.type, 'authentication_error');
  assert.equal(missing.headers['www-authenticate'], 'Bearer');
  for (const key of [`${HONEST_KEY}x`, HONEST_KEY.slice(0, -1), 'sk-made-up', HONEST_KEY.toUpperCase()])
    refused(await call(strict, 'POST', '/v1/completions', { headers: json(key), body }), 401, 'invalid_api_key');
  for (const path of ['/v1/models', `/v1/models/${model}`, '/v1/chat/completions', '/v1/embeddings'])
    refused(await call(strict, 'GET', path), 401, 'missing_api_key');
  refused(
    await call(strict, 'POST', '/v1/completions', {
      headers: { ...json(undefined), authorization: 'Basic c2s6' },
      body,
    }),
    401,
    'missing_api_key',
  );
  assert.equal(await tokensGenerated(strict), before);
  assert.equal((await call(strict, 'GET', '/healthz')).status, 200);
  assert.equal((await fetch(`${strict.metricsUrl}/metrics`)).status, 200);
  const models = await call(strict, 'GET', '/v1/models', { headers: { authorization: `Bearer ${ATTACKER_KEY}` } });
  assert.equal(models.status, 200);
  await honestCompletion(strict);
});

test('a flood past the slots and the line is told 429 with Retry-After; the honest one in line is served', async () => {
  const queued = 'tessera_gateway_requests_queued';
  // a long generation holds the one slot
  const holding = call(strict, 'POST', '/v1/completions', {
    headers: json(HONEST_KEY),
    body: completion('Once upon a time', 500),
  });
  await untilMetric(strict, 'tessera_gateway_requests_generating', 1);
  // a client that leaves the line gives its place back
  const leaving = new AbortController();
  const left = call(strict, 'POST', '/v1/completions', {
    headers: json(ATTACKER_KEY),
    body: completion('Once upon a time', 4),
    signal: leaving.signal,
  }).catch((error: Error) => error);
  await untilMetric(strict, queued, 1);
  leaving.abort();
  assert.equal(((await left) as Error).name, 'AbortError');
  await untilMetric(strict, queued, 0);
  const inLine = call(strict, 'POST', '/v1/completions', { headers: json(HONEST_KEY), body: completion('Once', 4) });
  await untilMetric(strict, queued, 1);

  const flood = await Promise.all(
    Array.from({ length: 12 }, () =>
      call(strict, 'POST', '/v1/completions', { headers: json(ATTACKER_KEY), body: completion('Once', 4) }),
    ),
  );
  // the holder is still generating: every flood request met a full slot and a full line
  assert.equal(await metric(strict, 'tessera_gateway_requests_generating'), 1);
  for (const answer of flood) {
    refused(answer, 429, 'queue_full');
    assert.equal(answer.body.error?.type, 'rate_limit_error');
    assert.match(String(answer.headers['retry-after']), /^[1-9][0-9]*$/);
  }
  const served = await inLine;
  assert.equal(served.status, 200, served.text);
  assert.equal((await holding).status, 200);
  await untilMetric(strict, queued, 0);
  await untilMetric(strict, 'tessera_gateway_requests_generating', 0);
});

test('slow bodies cannot pile up: past the line and the slots together, an arriving request is told 429', async () => {
  const arriving = 'tessera_gateway_requests_arriving';
  const before = await tokensGenerated(strict);
  const body = Buffer.from(completion('Once upon a time', 2));
  // the attacker sends the first bytes of each body and stalls: one slot + one place in line = 2 arriving
  const stalled = [0, 1].map(() => {
    let finish!: () => void;
    const answer = new Promise<Answer>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: strict.port,
          method: 'POST',
          path: '/v1/completions',
          headers: { ...json(ATTACKER_KEY), host: `127.0.0.1:${strict.port}`, 'content-length': body.length },
          agent: false,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
          res.once('end', () =>
            resolve({ status: res.statusCode!, headers: res.headers, text, body: JSON.parse(text) }),
          );
        },
      );
      req.once('error', reject);
      req.write(body.subarray(0, 10));
      finish = () => req.end(body.subarray(10));
    });
    return { answer, finish: () => finish() };
  });
  await untilMetric(strict, arriving, 2);
  const third = await call(strict, 'POST', '/v1/completions', { headers: json(ATTACKER_KEY), body });
  refused(third, 429, 'queue_full');
  assert.match(String(third.headers['retry-after']), /^[1-9][0-9]*$/);
  assert.equal(await tokensGenerated(strict), before);
  // /healthz and /v1/models need no body: they answer meanwhile
  assert.equal((await call(strict, 'GET', '/healthz')).status, 200);
  for (const s of stalled) s.finish();
  for (const s of stalled) assert.equal((await s.answer).status, 200);
  await untilMetric(strict, arriving, 0);
  await honestCompletion(strict);
});

test('80 requests at once on a gateway started as `tessera up` starts it: all queued and answered, none 503', async () => {
  const answers = await Promise.all(
    Array.from({ length: 80 }, (_, i) =>
      call(open, 'POST', '/v1/completions', { headers: json(undefined), body: completion(`Once upon a time ${i}`, 2) }),
    ),
  );
  const statuses = answers.map((a) => a.status);
  assert.deepEqual(
    statuses.filter((s) => s !== 200),
    [],
    answers.find((a) => a.status !== 200)?.text,
  );
});

test('a 1 MB prompt is refused before tokenizing while /healthz answers; an oversized body is 413', async () => {
  const before = await tokensGenerated(strict);
  // the body arrives in two halves: /healthz is asked and answered while the big request is in flight
  const big = Buffer.from(completion('Once upon a time '.repeat(58_000), 4));
  const events: string[] = [];
  const bigAnswer = new Promise<Answer>((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: strict.port,
        method: 'POST',
        path: '/v1/completions',
        headers: { ...json(ATTACKER_KEY), 'content-length': big.length },
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.once('end', () => {
          events.push('big answered');
          resolve({ status: res.statusCode!, headers: res.headers, text, body: JSON.parse(text) });
        });
      },
    );
    req.once('error', reject);
    req.write(big.subarray(0, big.length / 2), () => {
      void call(strict, 'GET', '/healthz').then((health) => {
        events.push(`healthz ${health.status}`);
        req.end(big.subarray(big.length / 2));
      }, reject);
    });
  });
  const answer = await bigAnswer;
  assert.deepEqual(events, ['healthz 200', 'big answered']);
  refused(answer, 400, 'prompt_too_long');
  assert.equal(answer.body.error?.param, 'prompt');

  // under the character bound, over the context: refused after tokenizing about a context's worth
  const overContext = await call(strict, 'POST', '/v1/completions', {
    headers: json(ATTACKER_KEY),
    body: completion('Once upon a time '.repeat(15_000), 4),
  });
  refused(overContext, 400, 'context_length_exceeded');
  const chat = await call(strict, 'POST', '/v1/chat/completions', {
    headers: json(ATTACKER_KEY),
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Once upon a time '.repeat(15_000) }] }),
  });
  refused(chat, 400, 'context_length_exceeded');
  assert.equal(chat.body.error?.param, 'messages');

  const oversized = await call(strict, 'POST', '/v1/completions', {
    headers: json(ATTACKER_KEY),
    body: Buffer.alloc((1 << 20) + 1, 0x20),
  });
  refused(oversized, 413, 'body_too_large');
  assert.equal(await tokensGenerated(strict), before);
  await honestCompletion(strict);
});
