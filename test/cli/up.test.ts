// `tessera up` as a user runs it: a whole network in child processes, a completion through its
// gateway, and a clean stop on SIGTERM that takes every child with it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { localGreedy } from '../support/local-reference.ts';

const workDir = mkdtempSync(join(tmpdir(), 'tessera-up-'));
let up: ChildProcess | undefined;
const childPids: number[] = [];

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

after(() => {
  // only if the test failed before the clean stop
  if (up && up.exitCode === null && up.signalCode === null) up.kill('SIGKILL');
  for (const pid of childPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(workDir, { recursive: true, force: true });
});

/** Reads `up`'s stdout until its ready line (or its exit), keeping every line. */
function readUntilReady(child: ChildProcess): Promise<string[]> {
  const lines: string[] = [];
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      if (line.startsWith('ready;')) resolve(lines);
    });
    child.once('exit', (code) =>
      reject(new Error(`tessera up exited (code ${code}) before it was ready:\n${lines.join('\n')}`)),
    );
  });
}

test('tessera up serves completions through its gateway and stops everything on SIGTERM', async () => {
  up = spawn(process.execPath, ['bin/tessera.js', 'up', '--port', '0', '--registry-port', '0', '--work-dir', workDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  up.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => up!.once('exit', (code) => resolve(code)));
  const lines = await readUntilReady(up);

  const pids = lines
    .map((l) => /\(pid (\d+)\)/.exec(l)?.[1])
    .filter((p): p is string => p !== undefined)
    .map(Number);
  childPids.push(...pids);
  // a registry, a share-chain daemon, a verifier, a node per shard (2 by default) and a spare
  assert.equal(lines.filter((l) => l.startsWith('registry ')).length, 1);
  assert.equal(lines.filter((l) => l.startsWith('daemon ')).length, 1);
  assert.equal(lines.filter((l) => l.startsWith('verifier ')).length, 1);
  assert.deepEqual(
    lines
      .filter((l) => l.startsWith('node '))
      .map((l) => /shard (\d+)/.exec(l)![1])
      .sort(),
    ['0', '1', '1'],
  );
  assert.equal(pids.length, 6);
  const gatewayUrl = /^gateway\s+(http:\/\/\S+)\/v1/m.exec(lines.join('\n'))![1]!;
  const expected = await localGreedy('Once upon a time', 32);
  assert.ok(
    lines.includes(`sample completion of "Once upon a time": ${JSON.stringify(expected.text)}`),
    lines.join('\n'),
  );

  const response = await fetch(`${gatewayUrl}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'stories260K', prompt: 'Once upon a time', max_tokens: 32, temperature: 0 }),
  });
  assert.equal(response.status, 200);
  assert.equal(((await response.json()) as { choices: { text: string }[] }).choices[0]!.text, expected.text);

  // every role, the gateway too, prints the /metrics URL it serves, and answers /healthz there
  const metricsUrls = lines
    .map((l) => /  metrics (http:\/\/\S+\/metrics)$/.exec(l)?.[1])
    .filter((u): u is string => u !== undefined);
  assert.equal(metricsUrls.length, 7, lines.join('\n'));
  for (const url of metricsUrls) assert.equal((await fetch(url.replace(/metrics$/, 'healthz'))).status, 200, url);

  up.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  for (const pid of pids) assert.equal(alive(pid), false, `child ${pid} outlived tessera up`);
});
