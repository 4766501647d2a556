// `tessera up` as a user runs it: a whole network in child processes, each role on its default port
// when free and on another when not, a completion through its gateway, the CLI finding the daemon
// through the registry, an API key the gateway requires, and a clean stop on SIGTERM that takes every
// child with it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { localGreedy } from '../support/local-reference.ts';
import { runTessera } from '../support/tessera-cli.ts';

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

/** A loopback port held open by this test, so that it is in use for `tessera up`. */
function holdPort(): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => resolve(server));
  });
}
const portOf = (server: Server) => (server.address() as AddressInfo).port;

// The documented defaults (50050, 50070, 8000) may be taken on this machine, so the test names its
// own stand-ins: the registry's free (a port released just now), the daemon's and the gateway's held.
const freed = await holdPort();
const registryPort = portOf(freed);
await new Promise((resolve) => freed.close(resolve));
const heldDaemonPort = await holdPort();
const heldGatewayPort = await holdPort();

after(() => {
  heldDaemonPort.close();
  heldGatewayPort.close();
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
  const defaultPorts = [registryPort, portOf(heldDaemonPort), portOf(heldGatewayPort)].join(',');
  const apiKey = 'up-test-key';
  up = spawn(
    process.execPath,
    ['bin/tessera.js', 'up', '--default-ports', defaultPorts, '--work-dir', workDir, '--api-key', apiKey],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
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

  // a free default port is taken; a default port in use gives way to a free one, said in one line
  const text = lines.join('\n');
  assert.match(text, new RegExp(`^registry\\s+127\\.0\\.0\\.1:${registryPort}\\s`, 'm'));
  const daemonNotice = new RegExp(
    `^port ${portOf(heldDaemonPort)} is in use; the daemon listens on (127\\.0\\.0\\.1:(\\d+))$`,
    'm',
  );
  const [, daemonEndpoint, daemonPort] = daemonNotice.exec(text) ?? assert.fail(text);
  assert.notEqual(Number(daemonPort), portOf(heldDaemonPort));
  assert.match(text, new RegExp(`^daemon\\s+${daemonEndpoint!.replaceAll('.', '\\.')}\\s`, 'm'));
  const gatewayNotice = new RegExp(
    `^port ${portOf(heldGatewayPort)} is in use; the gateway listens on (127\\.0\\.0\\.1:\\d+)$`,
    'm',
  );
  const [, gatewayEndpoint] = gatewayNotice.exec(text) ?? assert.fail(text);
  const gatewayUrl = /^gateway\s+(http:\/\/\S+)\/v1/m.exec(text)![1]!;
  assert.equal(gatewayUrl, `http://${gatewayEndpoint}`);

  // the CLI finds the daemon through the registry, wherever it listens
  const registryFlag = `--registry 127.0.0.1:${registryPort}`;
  assert.ok(lines.includes(`      tessera chain blocks ${registryFlag}`), text);
  const blocks = await runTessera(['chain', 'blocks', ...registryFlag.split(' '), '--json']);
  assert.equal(blocks.code, 0, blocks.stderr);
  const heights = (JSON.parse(blocks.stdout) as { height: number }[]).map((b) => b.height);
  assert.ok(heights.length >= 1, blocks.stdout);
  assert.deepEqual(
    heights,
    heights.map((_, i) => heights[0]! + i),
  );
  const expected = await localGreedy('Once upon a time', 32);
  assert.ok(
    lines.includes(`sample completion of "Once upon a time": ${JSON.stringify(expected.text)}`),
    lines.join('\n'),
  );

  // with --api-key the gateway serves /v1 only to callers that present the key, as its banner shows
  assert.match(text, /^try:  curl \S+ -H "authorization: Bearer \$TESSERA_API_KEY"/m);
  // the body of the README's quick-start curl, so the README's promise is what is tested
  const readmeBody =
    /-d '(\{[^']*\})'/.exec(readFileSync('README.md', 'utf8'))?.[1] ?? assert.fail('no curl in README');
  const completion = (headers: Record<string, string>) =>
    fetch(`${gatewayUrl}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: readmeBody,
    });
  const anonymous = await completion({});
  assert.equal(anonymous.status, 401);
  assert.equal(((await anonymous.json()) as { error: { code: string } }).error.code, 'missing_api_key');
  const response = await completion({ authorization: `Bearer ${apiKey}` });
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
