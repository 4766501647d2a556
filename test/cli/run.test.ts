// `tessera run` as a person runs it: a real process, its stdout, its exit code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testModel } from '../support/models.ts';

const bin = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));

/** A loopback port nothing listens on: the hub the offline case cannot reach. */
const closedPort = await new Promise<number>((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    server.close(() => resolve(port));
  });
});

function tessera(...args: string[]) {
  const env = {
    ...process.env,
    TESSERA_CACHE: join(tmpdir(), `tessera-cli-test-${process.pid}`),
    TESSERA_HUB_URL: `http://127.0.0.1:${closedPort}`,
  };
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('tessera run streams the greedy continuation of the default model', () => {
  const { status, stdout, stderr } = tessera('run', '--prompt', 'Once upon a time', '--max-tokens', '16');
  assert.equal(status, 0, stderr);
  assert.ok(stdout.startsWith(', there was a little girl named Lily. She loved to play'), stdout);
  assert.ok(stdout.endsWith('\n'));
});

test('tessera run --json reports prompt tokens, generated ids, text and top-k log-probabilities', () => {
  const { status, stdout, stderr } = tessera(
    'run',
    '--model',
    testModel('stories260K-q8_0.gguf'),
    '--prompt',
    'Once upon a time',
    '--max-tokens',
    '5',
    '--json',
    '--logprobs',
    '3',
    '--threads',
    '1',
  );
  assert.equal(status, 0, stderr);
  const result = JSON.parse(stdout);
  assert.deepEqual(result.prompt_tokens, [1, 403, 407, 261, 378]);
  assert.equal(result.tokens.length, 5);
  assert.equal(result.text, ', there was a little');
  assert.equal(result.logprobs.length, 5);
  for (const [i, position] of result.logprobs.entries()) {
    assert.equal(position.token, result.tokens[i]);
    assert.equal(position.top_logprobs.length, 3);
    assert.equal(position.top_logprobs[0].token, position.token, 'greedy picks the most likely token');
    assert.ok(position.logprob <= 0 && position.top_logprobs[1].logprob <= position.top_logprobs[0].logprob);
  }
  // alternatives are named by their decoded text (" there"), as the text is made of, not by "\u2581there"
  assert.equal(
    result.logprobs.map((p: { top_logprobs: { text: string }[] }) => p.top_logprobs[0]!.text).join(''),
    result.text,
  );
});

test('the same seed gives the same sampled text, another seed another', () => {
  const sample = (seed: string) =>
    tessera(
      'run',
      '--prompt',
      'Once upon a time',
      '--max-tokens',
      '24',
      '--temperature',
      '1',
      '--seed',
      seed,
      '--json',
    );
  const a = JSON.parse(sample('11').stdout);
  assert.deepEqual(JSON.parse(sample('11').stdout).tokens, a.tokens);
  assert.notDeepEqual(JSON.parse(sample('12').stdout).tokens, a.tokens);
});

test('bad usage and broken models give one clear line and a non-zero exit code', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'tessera-cli-'));
  try {
    const notGguf = join(scratch, 'model.gguf');
    writeFileSync(notGguf, 'this is not a model');
    const broken = tessera('run', '--model', notGguf, '--prompt', 'hi');
    assert.equal(broken.status, 1);
    assert.match(broken.stderr, /^tessera: .*model\.gguf: not a GGUF file/);

    const usage = tessera('run', '--prompt', 'hi', '--max-tokens', 'many');
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /--max-tokens must be an integer from 1/);

    // a hub that cannot be reached (a closed port on this machine)
    const offline = tessera('run', '--model', 'hf:ggml-org/models/tinyllamas/stories260K.gguf', '--prompt', 'hi');
    assert.equal(offline.status, 1);
    assert.match(offline.stderr, /unreachable.*--model PATH/s);

    const long = tessera('run', '--prompt', 'Once upon a time '.repeat(600));
    assert.equal(long.status, 1);
    assert.match(long.stderr, /the prompt has \d+ tokens; the model's context holds 2048/);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});
