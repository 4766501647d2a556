// Attacks through files: a GGUF that claims a 2^40-item array, and manifests that name a file
// outside their directory. Each is handed to real `tessera` processes (run, shard, node, verifier,
// registry, chat against a hostile registry), which refuse it with one line naming the problem,
// leave what they were pointed at as it was, and keep serving honest files meanwhile.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { before, test } from 'node:test';
import { Server, ServerCredentials, status } from '@grpc/grpc-js';
import { connect } from '../../src/client/client.ts';
import { writeNewKeyFile } from '../../src/crypto/keys.ts';
import { MANIFEST_FILE } from '../../src/model/manifest.ts';
import { readManifest } from '../../src/model/shards/shard-files.ts';
import { tessera } from '../../src/proto/services.ts';
import { ggufClaimingArray } from '../support/hostile-files.ts';
import { testModel } from '../support/models.ts';
import { runTessera, type CliRun } from '../support/tessera-cli.ts';
import { processScratch } from '../support/process-scratch.ts';

const TESSERA = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));
const { scratch, children, cleanups } = processScratch('attack-files');
const honestDir = join(scratch, 'honest');
const evilDir = join(scratch, 'evil');
const evilGguf = join(scratch, 'evil.gguf');
const keyPath = join(scratch, 'attacker.key');
const env = { ...process.env, TESSERA_CACHE: join(scratch, 'cache'), XDG_CONFIG_HOME: join(scratch, 'config') };

/** A file tree's names and contents, to show an attack changed nothing. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(dir).sort())
    files[name] = createHash('sha256')
      .update(readFileSync(join(dir, name)))
      .digest('hex');
  return files;
}

/**
 * The run failed with `code`, printing exactly one line for a person that matches `pattern` (the
 * JSON events a role logs while starting, such as metrics_listening, are for machines).
 */
function refusedWithOneLine(run: CliRun, code: number, pattern: RegExp): void {
  assert.equal(run.code, code, run.stderr);
  const lines = run.stderr
    .trimEnd()
    .split('\n')
    .filter((line) => !line.startsWith('{"time":'));
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0]!, pattern);
}

const ESCAPE =
  /invalid manifest: shard 0 file "\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd" contains "\/": it must be a plain name/;

before(async () => {
  writeFileSync(evilGguf, ggufClaimingArray(2n ** 40n));
  writeNewKeyFile(keyPath);
  const shard = await runTessera(
    ['shard', testModel('stories260K.gguf'), '--shards', '2', '--out', honestDir, '--model-id', 'stories'],
    env,
  );
  assert.equal(shard.code, 0, shard.stderr);
  // The attacker's copy of a shards dir: valid in every way but one shard file's name.
  cpSync(honestDir, evilDir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(evilDir, MANIFEST_FILE), 'utf8'));
  manifest.shards[0].file = '../../../../etc/passwd';
  writeFileSync(join(evilDir, MANIFEST_FILE), JSON.stringify(manifest, null, 2));
});

test('tessera run and tessera shard refuse a GGUF claiming a 2^40-item array in one line; an honest model runs meanwhile', async () => {
  const out = join(scratch, 'evil-shards');
  const [run, shard, honest] = await Promise.all([
    runTessera(['run', '--model', evilGguf, '--prompt', 'hi', '--threads', '1'], env),
    runTessera(['shard', evilGguf, '--shards', '1', '--out', out], env),
    runTessera(
      [
        'run',
        '--model',
        testModel('stories260K.gguf'),
        '--prompt',
        'Once upon a time',
        '--max-tokens',
        '4',
        '--threads',
        '1',
      ],
      env,
    ),
  ]);
  const problem =
    /^tessera: .*evil\.gguf: array length of tokenizer\.ggml\.tokens 1099511627776 is over the limit of 16777216 items in all arrays together/;
  refusedWithOneLine(run, 1, problem);
  refusedWithOneLine(shard, 1, problem);
  assert.equal(existsSync(join(out, MANIFEST_FILE)), false, 'no manifest written for the hostile model');
  assert.equal(honest.code, 0, honest.stderr);
  assert.match(honest.stdout, /^, there was a/);
});

/** `tessera node ARGS`; resolves when it logs node_started, or with its exit and stderr. */
function startNode(args: string[]): { started: Promise<void>; exited: Promise<CliRun> } {
  const child = spawn(process.execPath, [TESSERA, 'node', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  children.push(child);
  let stderr = '';
  let stdout = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const started = new Promise<void>((resolve) =>
    createInterface({ input: child.stderr! }).on('line', (line) => {
      stderr += `${line}\n`;
      if (line.includes('"event":"node_started"')) resolve();
    }),
  );
  const exited = new Promise<CliRun>((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  return { started, exited: exited.then((run) => run) };
}

test('tessera node refuses a manifest naming ../../../../etc/passwd before opening it; an honest node starts meanwhile', async () => {
  const evilBefore = snapshot(evilDir);
  const common = ['--shard-index', '0', '--port', '0', '--metrics-port', '0', '--key', keyPath, '--threads', '1'];
  const evil = startNode(['--shards-dir', evilDir, ...common]);
  const honest = startNode(['--shards-dir', honestDir, ...common]);
  const refused = await evil.exited;
  refusedWithOneLine(refused, 1, ESCAPE);
  assert.deepEqual(snapshot(evilDir), evilBefore, 'the shards dir is as it was');
  await honest.started;
  children.at(-1)!.kill('SIGTERM');
  assert.equal((await honest.exited).code, 0);
  assert.equal(readManifest(honestDir).shards[0]!.file, 'stories.shard-0-of-2.gguf');
});

test('tessera verifier and tessera registry refuse the same manifest in one line', async () => {
  const evilBefore = snapshot(evilDir);
  const config = join(scratch, 'cluster.json');
  writeFileSync(config, JSON.stringify({ clusterId: 'attack', models: [{ id: 'stories', manifest: evilDir }] }));
  const [verifier, registry] = await Promise.all([
    runTessera(
      ['verifier', '--registry', '127.0.0.1:1', '--shards-dir', evilDir, '--key', keyPath, '--metrics-port', '0'],
      env,
    ),
    runTessera(
      [
        'registry',
        '--cluster-config',
        config,
        '--db',
        join(scratch, 'registry.db'),
        '--port',
        '0',
        '--metrics-port',
        '0',
      ],
      env,
    ),
  ]);
  refusedWithOneLine(verifier, 1, ESCAPE);
  assert.equal(registry.code, 2, registry.stderr);
  assert.match(registry.stderr, ESCAPE);
  assert.equal(existsSync(join(scratch, 'registry.db')), false, 'the registry refused before creating its database');
  assert.deepEqual(snapshot(evilDir), evilBefore);
});

/**
 * A registry run by the attacker: ExchangePeers answers no peers; GetManifest serves `stories` as
 * it is, `escape` with a tokenizer file named outside the cache, and `bomb` with the 2^40-array
 * GGUF as its tokenizer (its hash in the manifest, so only the reader stands in the way).
 */
async function hostileRegistry(): Promise<string> {
  const honestJson = readFileSync(join(honestDir, MANIFEST_FILE), 'utf8');
  const honestTokenizer = readFileSync(join(honestDir, readManifest(honestDir).tokenizerFile));
  const bomb = ggufClaimingArray(2n ** 40n);
  const models: Record<string, { manifestJson: string; tokenizerGguf: Buffer }> = {
    stories: { manifestJson: honestJson, tokenizerGguf: honestTokenizer },
    escape: {
      manifestJson: JSON.stringify({
        ...JSON.parse(honestJson),
        modelId: 'escape',
        tokenizerFile: '../../../../etc/passwd',
      }),
      tokenizerGguf: honestTokenizer,
    },
    bomb: {
      manifestJson: JSON.stringify({
        ...JSON.parse(honestJson),
        modelId: 'bomb',
        tokenizerSha256: createHash('sha256').update(bomb).digest('hex'),
      }),
      tokenizerGguf: bomb,
    },
  };
  const server = new Server();
  server.addService(tessera.v1.Registry.service, {
    exchangePeers: (_call: unknown, done: (e: null, reply: object) => void) => done(null, { peers: [] }),
    getManifest: (
      call: { request: { modelId: string } },
      done: (e: { code: number; details: string } | null, reply?: object) => void,
    ) => {
      const model = models[call.request.modelId];
      if (model) done(null, model);
      else done({ code: status.NOT_FOUND, details: `no model ${call.request.modelId}` });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  cleanups.push(() => server.forceShutdown());
  return `127.0.0.1:${port}`;
}

test("tessera chat refuses a hostile registry's manifest and tokenizer in one line; its honest model loads meanwhile", async () => {
  const registry = await hostileRegistry();
  const client = await connect({ registries: [registry], cacheDir: join(scratch, 'client-cache') });
  cleanups.push(() => client.close());
  const [escape, bomb, honest] = await Promise.all([
    runTessera(['chat', '--registry', registry, '--model', 'escape', 'hi'], env),
    runTessera(['chat', '--registry', registry, '--model', 'bomb', 'hi'], env),
    client.model('stories'),
  ]);
  refusedWithOneLine(
    escape,
    1,
    /^tessera: manifest of escape from registry 127\.0\.0\.1:\d+: invalid manifest: tokenizerFile "\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd" contains "\/": it must be a plain name/,
  );
  refusedWithOneLine(
    bomb,
    1,
    /^tessera: .*tokenizer-[0-9a-f]{64}\.gguf: array length of tokenizer\.ggml\.tokens 1099511627776 is over the limit/,
  );
  assert.deepEqual(honest.tokenizer.encode('Once upon a time'), [1, 403, 407, 261, 378]);
});
