// `tessera preflight node`: one line per check, each failure saying what to fix; exit 1 if any failed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeNewKeyFile } from '../../src/crypto/keys.ts';
import { preflightNode, type PreflightCheck } from '../../src/node/preflight.ts';
import { readManifest } from '../../src/model/shards/shard-files.ts';
import { shardModel } from '../../src/model/shards/shard.ts';
import { parseClusterConfig } from '../../src/registry/cluster-config.ts';
import { startRegistry, type RegistryHandle } from '../../src/registry/registry.ts';
import { testModel } from '../support/models.ts';
import { selfSignedCert } from '../support/tls-certs.ts';

const TESSERA = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'tessera-preflight-'));
const shardsDir = join(scratch, 'shards');
const keyPath = join(scratch, 'node.key');
let registry: RegistryHandle;
let good: { cert: string; key: string };
let freePort: number;

before(async () => {
  shardModel(testModel('stories260K.gguf'), 2, shardsDir);
  writeNewKeyFile(keyPath);
  good = selfSignedCert(scratch, 'good', ['node.example.org', '127.0.0.1']);
  const clusterConfig = parseClusterConfig(
    { clusterId: 'pre', models: [{ id: 'stories260K', manifest: 'shards' }] },
    scratch,
  );
  registry = await startRegistry({ port: 0, dbPath: join(scratch, 'registry.db'), clusterConfig });
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  freePort = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
});

after(async () => {
  await registry?.close();
  rmSync(scratch, { recursive: true, force: true });
});

const byName = (checks: PreflightCheck[]) => Object.fromEntries(checks.map((c) => [c.name, c]));

test('a node ready to launch passes every check', async () => {
  const checks = await preflightNode({
    advertise: `node.example.org:${freePort}`,
    keyPath,
    tls: good,
    port: freePort,
    registry: registry.endpoint,
    shardsDir,
    shardIndex: 1,
  });
  assert.deepEqual(
    checks.map((c) => [c.name, c.ok]),
    [
      ['endpoint', true],
      ['key', true],
      ['port', true],
      ['tls', true],
      ['shard', true],
      ['registry', true],
    ],
  );
  const c = byName(checks);
  assert.match(c.key!.detail, /node id 0x[0-9a-f]{40}$/);
  assert.match(c.tls!.detail, /^certificate CN=node\.example\.org with its key, valid until /);
  assert.match(c.registry!.detail, /models: stories260K$/);
  assert.match(c.shard!.detail, /^stories260K shard 1 \(layers 3 to 4\) matches its SHA-256$/);
});

test('a node holding a span checks every file of it; a span the manifest lacks is named', async () => {
  const check = async (shardIndex: number, shardEnd: number) =>
    byName(await preflightNode({ advertise: `127.0.0.1:${freePort}`, keyPath, shardsDir, shardIndex, shardEnd }))
      .shard!;
  const both = await check(0, 2);
  assert.equal(both.ok, true);
  assert.equal(both.detail, 'stories260K shards 0–1 (layers 0 to 4) match their SHA-256s');
  const past = await check(1, 3);
  assert.equal(past.ok, false);
  assert.equal(past.detail, "shards [1, 3) reach past stories260K's 2 shards");
});

test('every problem is named with its fix, in one pass', async () => {
  const badKey = join(scratch, 'wide.key');
  writeNewKeyFile(badKey);
  chmodSync(badKey, 0o644);
  const other = selfSignedCert(scratch, 'other', ['node.example.org']);
  const corrupt = join(scratch, 'corrupt');
  cpSync(shardsDir, corrupt, { recursive: true });
  const entry = readManifest(corrupt).shards[0]!;
  writeFileSync(join(corrupt, entry.file), Buffer.concat([readFileSync(join(corrupt, entry.file)), Buffer.from([0])]));
  const busy: Server = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const busyPort = (busy.address() as { port: number }).port;
  try {
    const checks = byName(
      await preflightNode({
        advertise: `node.example.org:${busyPort}`,
        keyPath: badKey,
        tls: { cert: good.cert, key: other.key },
        registry: '127.0.0.1:1',
        registryTimeoutMs: 500,
        shardsDir: corrupt,
        shardIndex: 0,
      }),
    );
    assert.equal(checks.endpoint!.ok, true);
    assert.equal(
      checks.key!.detail,
      `key file ${badKey} has mode 0644, readable by others; fix it with: chmod 600 ${badKey}`,
    );
    assert.match(
      checks.port!.detail,
      new RegExp(
        `^cannot listen on 127\\.0\\.0\\.1:${busyPort} \\(EADDRINUSE\\): stop what holds the port or choose another with --port$`,
      ),
    );
    assert.equal(checks.tls!.detail, `TLS private key ${other.key} does not belong to the certificate ${good.cert}`);
    assert.match(
      checks.shard!.detail,
      new RegExp(`^shard 0 file .* has SHA-256 [0-9a-f]{64}, the manifest expects ${entry.sha256}: `),
    );
    assert.match(
      checks.registry!.detail,
      /^registry 127\.0\.0\.1:1 did not answer ListModels within 500 ms .*: check the address and that the registry runs$/,
    );
    assert.ok(
      Object.values(checks)
        .filter((c) => c.name !== 'endpoint')
        .every((c) => !c.ok),
    );
  } finally {
    busy.close();
  }
});

test('TLS: required off loopback, and the certificate must name the advertised host', async () => {
  const plain = byName(await preflightNode({ advertise: `203.0.113.9:${freePort}`, keyPath }));
  assert.equal(plain.tls!.ok, false);
  assert.match(
    plain.tls!.detail,
    /is not a loopback address, so it must be served over TLS: pass --tls-cert FILE --tls-key FILE/,
  );
  const wrongName = byName(await preflightNode({ advertise: `node2.example.org:${freePort}`, keyPath, tls: good }));
  assert.match(
    wrongName.tls!.detail,
    new RegExp(
      `^TLS certificate ${good.cert} does not name node2\\.example\\.org .*issue one for node2\\.example\\.org$`,
    ),
  );
  const missing = byName(
    await preflightNode({
      advertise: `node.example.org:${freePort}`,
      keyPath,
      tls: { cert: join(scratch, 'none.pem'), key: good.key },
    }),
  );
  assert.match(missing.tls!.detail, /^cannot read the TLS certificate .*none\.pem: ENOENT$/);
  const loopback = byName(await preflightNode({ advertise: `127.0.0.1:${freePort}`, keyPath }));
  assert.equal(loopback.tls!.ok, true);
});

test("a registry that does not serve the shard's model fails the registry check", async () => {
  const otherDir = join(scratch, 'renamed');
  cpSync(shardsDir, otherDir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(otherDir, 'manifest.json'), 'utf8'));
  writeFileSync(join(otherDir, 'manifest.json'), JSON.stringify({ ...manifest, modelId: 'unknown-model' }));
  const checks = byName(
    await preflightNode({
      advertise: `127.0.0.1:${freePort}`,
      keyPath,
      registry: registry.endpoint,
      shardsDir: otherDir,
      shardIndex: 0,
    }),
  );
  assert.equal(
    checks.registry!.detail,
    `registry ${registry.endpoint} does not serve model unknown-model (it serves: stories260K); add the model to its cluster config`,
  );
});

/** Runs `tessera preflight node` without blocking this process (the registry it asks lives here). */
function preflight(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [TESSERA, 'preflight', 'node', ...args],
      { encoding: 'utf8' },
      (error, stdout, stderr) => {
        resolve({ status: error ? Number(error.code) : 0, stdout, stderr });
      },
    );
  });
}

test('the command prints one line per check and exits 1 when one failed', async () => {
  const ok = await preflight([
    '--advertise',
    `127.0.0.1:${freePort}`,
    '--key',
    keyPath,
    '--shards-dir',
    shardsDir,
    '--shard',
    '0-1',
    '--registry',
    registry.endpoint,
  ]);
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assert.deepEqual(
    ok.stdout
      .trim()
      .split('\n')
      .map((line) => line.split(/\s+/).slice(0, 2).join(' ')),
    ['ok endpoint', 'ok key', 'ok port', 'ok tls', 'ok shard', 'ok registry'],
  );
  const bad = await preflight(['--advertise', `203.0.113.9:${freePort}`, '--key', join(scratch, 'missing.key')]);
  assert.equal(bad.status, 1);
  assert.match(
    bad.stdout,
    /^FAIL {2}key +key file .*missing\.key does not exist; create one with: tessera keys new --out .*missing\.key$/m,
  );
  assert.match(bad.stdout, /^FAIL {2}tls /m);
  assert.match(bad.stderr, /2 of 4 checks failed/);
  const badSpan = await preflight(['--advertise', `127.0.0.1:${freePort}`, '--key', keyPath, '--shard', '1-0']);
  assert.equal(badSpan.status, 2);
  assert.match(
    badSpan.stderr,
    /--shard must be a shard K or a run of shards A-B \(both included, A ≤ B\), as in 3 or 0-2; got "1-0"/,
  );
});
