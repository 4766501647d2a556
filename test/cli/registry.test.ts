import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKeyPair, readKeyFile } from '../../src/crypto/keys.ts';
import { RegistryClient } from '../../src/registry/registry-client.ts';
import { nodeBody, removeDir, snapshot, tempDir, waitFor, writeShardsDir } from '../support/registry-fixtures.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = tempDir('registry-cli');
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  removeDir(dir);
});

interface Run {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  readonly exited: Promise<number | null>;
}

function tessera(...args: string[]): Run {
  const child = spawn(process.execPath, [join(ROOT, 'bin/tessera.js'), ...args], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const run: Run = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
  };
  child.stdout!.on('data', (chunk: Buffer) => (run.stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (run.stderr += chunk.toString()));
  return run;
}

test('keys new writes a 0600 key, prints its node id and never overwrites; a 0644 key is refused with the fix', async () => {
  const path = join(dir, 'keys', 'node.key');
  const created = tessera('keys', 'new', '--out', path);
  assert.equal(await created.exited, 0, created.stderr);
  assert.equal(created.stdout, `${readKeyFile(path).address}\n`);
  assert.equal(statSync(path).mode & 0o777, 0o600);

  const again = tessera('keys', 'new', '--out', path);
  assert.equal(await again.exited, 1);
  assert.equal(again.stderr, `tessera: ${path} already exists; refusing to overwrite a key\n`);
  assert.equal(again.stdout, '');

  chmodSync(path, 0o644);
  const shown = tessera('keys', 'show', '--key', path);
  assert.equal(await shown.exited, 1);
  assert.equal(
    shown.stderr,
    `tessera: key file ${path} has mode 0644, readable by others; fix it with: chmod 600 ${path}\n`,
  );
});

test('tessera registry serves until SIGTERM, then closes its database and exits 0', async () => {
  writeShardsDir(join(dir, 'tiny'), 'tiny', 3);
  writeFileSync(
    join(dir, 'cluster.json'),
    JSON.stringify({ clusterId: 'cli', models: [{ manifest: 'tiny', pricePer1kTokens: 4 }] }),
  );
  const registry = tessera('registry', '--port', '0', '--cluster-config', 'cluster.json', '--db', 'registry.db');
  const started = await waitFor(
    'the registry_started log line',
    () => {
      const line = registry.stderr.split('\n').find((l) => l.includes('"registry_started"'));
      if (line === undefined && registry.child.exitCode !== null)
        throw new Error(`registry exited: ${registry.stderr}`);
      return line === undefined
        ? undefined
        : (JSON.parse(line) as { endpoint: string; clusterId: string; models: string[] });
    },
    30_000,
  );
  assert.equal(started.clusterId, 'cli');
  assert.deepEqual(started.models, ['tiny']);

  const key = generateKeyPair();
  const client = new RegistryClient(started.endpoint);
  try {
    assert.deepEqual(await client.listModels(), [
      { modelId: 'tiny', architecture: 'llama', shards: 3, pricePer1kTokens: 4 },
    ]);
    await client.register(key, nodeBody(key));
  } finally {
    client.close();
  }
  registry.child.kill('SIGTERM');
  assert.equal(await registry.exited, 0, registry.stderr);
  assert.match(registry.stderr, /"event":"registry_stopped"/);
  const state = snapshot(join(dir, 'registry.db'));
  assert.deepEqual(
    state.nodes!.map((n) => (n as { node_id: string }).node_id),
    [key.address],
  );
  assert.equal(state.manifests!.length, 1);
});

test('tessera registry refuses a bad cluster config, naming each mistake', async () => {
  writeFileSync(
    join(dir, 'bad.json'),
    JSON.stringify({ clusterId: 'cli', models: [{ manifest: 'nowhere' }], heartbeat: { intervalMs: 1 } }),
  );
  const run = tessera('registry', '--port', '0', '--cluster-config', 'bad.json');
  assert.equal(await run.exited, 2);
  assert.equal(
    run.stderr,
    `tessera: bad.json: 2 problems in cluster config: models[0].manifest: file not found: ${join(dir, 'nowhere')}; heartbeat.intervalMs: must be an integer >= 10, got 1\n`,
  );
});
