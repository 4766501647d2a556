// How `tessera` fails, as a user sees it: one line on stderr that names the fix, never a stack, exit
// status 2 for bad usage and 1 for a failure; and output into a pipe closed early ends quietly.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegistry } from '../../src/registry/registry.ts';
import { testClusterConfig, writeShardsDir } from '../support/registry-fixtures.ts';
import { runTessera, type CliRun } from '../support/tessera-cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'tessera-cli-errors-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A loopback endpoint nothing listens on: a registry that does not answer. */
const closedEndpoint = await new Promise<string>((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    server.close(() => resolve(`127.0.0.1:${port}`));
  });
});

// no key is ever created in the user's home, and no cache is shared with other tests
const env = { ...process.env, HOME: dir, TESSERA_CACHE: join(dir, 'cache'), TESSERA_DEBUG: '' };

function assertOneLine(run: CliRun, exitCode: number, pattern: RegExp): void {
  assert.equal(run.code, exitCode, run.stderr);
  const lines = run.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, run.stderr);
  assert.doesNotMatch(run.stderr, /^\s+at /m);
  assert.match(lines[0]!, /^tessera: /);
  assert.match(lines[0]!, pattern);
  assert.equal(run.stdout, '');
}

test('a flag a command does not have is bad usage: exit 2, one line naming it', async () => {
  assertOneLine(await runTessera(['chain', 'blocks', '--bogus'], env), 2, /unknown option '--bogus'.*--help/);
});

test('a flag value out of range is bad usage: exit 2, one line saying what it must be', async () => {
  assertOneLine(await runTessera(['chain', 'blocks', '--from', 'x'], env), 2, /--from must be an integer/);
});

test('a registry that does not answer: exit 1, one line naming it and the flag to pass', async () => {
  const registry = ['--registry', closedEndpoint];
  const fix = new RegExp(`${closedEndpoint}.*--registry HOST:PORT`);
  assertOneLine(await runTessera(['status', ...registry], env), 1, fix);
  assertOneLine(await runTessera(['chat', 'hello', ...registry], env), 1, fix);
  assertOneLine(await runTessera(['account', `0x${'1'.repeat(40)}`, ...registry], env), 1, fix);
  // the daemon is found through the registry, so the user may also name the daemon itself
  assertOneLine(await runTessera(['chain', 'blocks', ...registry], env), 1, /--daemon HOST:PORT/);
});

test('a registry that lists no daemon: exit 1, one line saying how to start one or name it', async () => {
  writeShardsDir(join(dir, 'tiny'), 'tiny', 3);
  const registry = await startRegistry({
    port: 0,
    dbPath: join(dir, 'registry.db'),
    clusterConfig: testClusterConfig(dir),
  });
  try {
    const run = await runTessera(['chain', 'blocks', '--registry', registry.endpoint], env);
    assertOneLine(
      run,
      1,
      new RegExp(`registry ${registry.endpoint} lists no live daemon.*tessera daemon.*--daemon HOST:PORT`),
    );
  } finally {
    await registry.close();
  }
});

test('a model file that is missing or not a model: exit 1, one line naming the file', async () => {
  const missing = join(dir, 'missing.gguf');
  assertOneLine(await runTessera(['run', '--prompt', 'hi', '--model', missing], env), 1, new RegExp(missing));
  const garbage = join(dir, 'garbage.gguf');
  writeFileSync(garbage, 'not a model at all');
  assertOneLine(await runTessera(['run', '--prompt', 'hi', '--model', garbage], env), 1, /not a GGUF file/);
});

test('a key file others can read: exit 1, one line with the chmod that fixes it', async () => {
  const key = join(dir, 'node.key');
  assert.equal((await runTessera(['keys', 'new', '--out', key], env)).code, 0);
  chmodSync(key, 0o644);
  const run = await runTessera(['stake', '--amount', '1', '--key', key, '--registry', closedEndpoint], env);
  assertOneLine(run, 1, new RegExp(`chmod 600 ${key}`));
});

test('--help still prints the commands, and each command its own flags', async () => {
  const top = await runTessera(['--help'], env);
  assert.equal(top.code, 0, top.stderr);
  assert.match(top.stdout, /^\s+chain\s/m);
  const up = await runTessera(['up', '--help'], env);
  assert.equal(up.code, 0, up.stderr);
  assert.match(up.stdout, /--daemon-port <port>/);
  const chain = await runTessera(['chain', 'blocks', '--help'], env);
  assert.match(chain.stdout, /--registry <endpoint>/);
  assert.match(chain.stdout, /--daemon <endpoint>/);
});

test('output into a pipe its reader closed early ends quietly with status 0', async () => {
  // ~500 KB of JSON in one write: far past what a pipe buffers, so the write meets the closed pipe
  const args = ['run', '--prompt', 'Once upon a time', '--max-tokens', '500', '--json', '--logprobs', '20'];
  const bin = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));
  const child = spawn(process.execPath, [bin, ...args, '--threads', '1'], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let read = 0;
  child.stdout.once('data', (chunk: Buffer) => {
    read = chunk.length;
    child.stdout.destroy();
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('close', (c, s) => resolve([c, s])),
  );
  assert.ok(read > 0);
  assert.deepEqual({ code, signal, stderr }, { code: 0, signal: null, stderr: '' });
});
