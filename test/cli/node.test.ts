// `tessera shard` and `tessera node` as an operator runs them: real processes, SIGTERM, exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { writeNewKeyFile } from '../../src/crypto/keys.ts';
import { readManifest } from '../../src/model/shards/shard-files.ts';
import { parseClusterConfig } from '../../src/registry/cluster-config.ts';
import { startRegistry } from '../../src/registry/registry.ts';
import { RegistryClient } from '../../src/registry/registry-client.ts';
import { testModel } from '../support/models.ts';
import { processScratch } from '../support/process-scratch.ts';

const TESSERA = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));
const { scratch, children, cleanups } = processScratch('node-cli');
const shardsDir = join(scratch, 'shards');

/** A `tessera node` process; resolves with its node.start event, or rejects with its stderr if it exits first. */
function spawnNode(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(process.execPath, [TESSERA, 'node', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env });
  children.push(child);
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const started = new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on('line', (line) => {
      lines.push(line);
      if (line.startsWith('{') && JSON.parse(line).event === 'node_started') resolve(JSON.parse(line));
    });
    void exited.then((code) => reject(new Error(`tessera node exited with ${code}:\n${lines.join('\n')}`)));
  });
  started.catch(() => undefined);
  return { child, lines, started, exited };
}

test('tessera shard writes the shards, the tokenizer and the manifest, and prints them', () => {
  const run = spawnSync(
    process.execPath,
    [TESSERA, 'shard', testModel('stories260K.gguf'), '--shards', '2', '--out', shardsDir, '--model-id', 'stories'],
    { encoding: 'utf8' },
  );
  assert.equal(run.status, 0, run.stderr);
  const manifest = readManifest(shardsDir);
  assert.equal(manifest.modelId, 'stories');
  assert.match(run.stdout, /^stories: 5 layers in 2 shards$/m);
  assert.match(
    run.stdout,
    new RegExp(
      `shard 1  layers 3-4 \\+ head  stories\\.shard-1-of-2\\.gguf  ${manifest.shards[1]!.bytes} bytes  sha256 ${manifest.shards[1]!.sha256}`,
    ),
  );
  const bad = spawnSync(
    process.execPath,
    [TESSERA, 'shard', testModel('stories260K.gguf'), '--shards', '9', '--out', join(scratch, 'nine')],
    { encoding: 'utf8' },
  );
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /cannot cut 5 layers into 9 shards: choose from 1 to 5/);
});

test('tessera node registers, serves, and on SIGTERM unregisters and exits 0', async () => {
  const clusterConfig = parseClusterConfig(
    { clusterId: 'cli', models: [{ id: 'stories', manifest: 'shards' }] },
    scratch,
  );
  const registry = await startRegistry({ port: 0, dbPath: join(scratch, 'registry.db'), clusterConfig });
  cleanups.push(() => registry.close());
  const client = new RegistryClient(registry.endpoint);
  cleanups.push(() => client.close());
  const keyPath = join(scratch, 'node1.key');
  const key = writeNewKeyFile(keyPath);
  const node = spawnNode([
    '--shard',
    '1',
    '--shards-dir',
    shardsDir,
    '--registry',
    registry.endpoint,
    '--port',
    '0',
    '--key',
    keyPath,
    '--threads',
    '1',
  ]);
  const started = await node.started;
  assert.equal(started.nodeId, key.address);
  const listed = (await client.discover('stories')).nodes;
  assert.deepEqual(
    listed.map((n) => [n.nodeId, n.endpoint, n.shardIndex, n.shardEnd]),
    [[key.address, started.endpoint, 1, 2]],
  );
  node.child.kill('SIGTERM');
  assert.equal(await node.exited, 0);
  assert.ok(
    node.lines.some((line) => line.includes('"event":"node_stopped"')),
    'it logged its stop',
  );
  assert.deepEqual((await client.discover('stories')).nodes, [], 'unregistered before exiting');
});

test('tessera node refuses a public endpoint without TLS, and a key file others can read', async () => {
  const keyPath = join(scratch, 'node2.key');
  writeNewKeyFile(keyPath);
  const open = spawnNode([
    '--shard',
    '0',
    '--shards-dir',
    shardsDir,
    '--port',
    '0',
    '--key',
    keyPath,
    '--advertise',
    '203.0.113.7:50052',
  ]);
  assert.equal(await open.exited, 1);
  assert.match(
    open.lines.join('\n'),
    /advertised endpoint 203\.0\.113\.7:50052 is not a loopback address, so it must be served over TLS: pass --tls-cert FILE --tls-key FILE/,
  );

  chmodSync(keyPath, 0o644);
  const readable = spawnNode(['--shard', '0', '--shards-dir', shardsDir, '--port', '0', '--key', keyPath]);
  assert.equal(await readable.exited, 1);
  assert.match(
    readable.lines.join('\n'),
    new RegExp(`key file ${keyPath} has mode 0644, readable by others; fix it with: chmod 600 ${keyPath}`),
  );
});

test('tessera node --shard A-B holds a span of shards; a value that is no span, or one past the manifest, is refused with its reason', async () => {
  const keyPath = join(scratch, 'span.key');
  const key = writeNewKeyFile(keyPath);
  const span = spawnNode([
    '--shard',
    '0-1',
    '--shards-dir',
    shardsDir,
    '--port',
    '0',
    '--key',
    keyPath,
    '--threads',
    '1',
  ]);
  const started = await span.started;
  assert.deepEqual([started.nodeId, started.shard, started.shardEnd, started.layers], [key.address, 0, 2, [0, 5]]);
  span.child.kill('SIGTERM');
  assert.equal(await span.exited, 0);

  const backwards = spawnNode(['--shard', '1-0', '--shards-dir', shardsDir, '--port', '0', '--key', keyPath]);
  assert.equal(await backwards.exited, 2);
  assert.match(
    backwards.lines.join('\n'),
    /--shard must be a shard K or a run of shards A-B \(both included, A ≤ B\), as in 3 or 0-2; got "1-0"/,
  );
  const past = spawnNode(['--shard', '1-2', '--shards-dir', shardsDir, '--port', '0', '--key', keyPath]);
  assert.equal(await past.exited, 1);
  assert.match(past.lines.join('\n'), /shards \[1, 3\) reach past stories's 2 shards/);
  const both = spawnNode(['--shard', '1', '--shard-index', '1', '--shards-dir', shardsDir, '--key', keyPath]);
  assert.equal(await both.exited, 2);
  assert.match(both.lines.join('\n'), /--shard and --shard-index both name the shards to hold: pass --shard alone/);
});

test('tessera node without --key creates one in the config directory and says where', async () => {
  const config = join(scratch, 'config');
  const node = spawnNode(['--shard-index', '0', '--shards-dir', shardsDir, '--port', '0', '--threads', '1'], {
    ...process.env,
    XDG_CONFIG_HOME: config,
  });
  const started = await node.started;
  const keyPath = join(config, 'tessera', 'node.key');
  assert.ok(existsSync(keyPath));
  assert.equal(statSync(keyPath).mode & 0o777, 0o600);
  assert.match(node.lines.join('\n'), new RegExp(`created ${keyPath} \\(mode 0600, node id ${started.nodeId}\\)`));
  node.child.kill('SIGINT');
  assert.equal(await node.exited, 0);
});
