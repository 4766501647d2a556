// `tessera profile` as an operator runs it: one process, the manifest of bands it would announce and
// the roles it can take, measured on the embedded model; a registry that does not answer is one
// line on stderr and exit 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closedPort, runTessera } from '../support/tessera-cli.ts';

test('tessera profile --json prints coarse bands, a speed tier and the roles this machine can take', async () => {
  const run = await runTessera(['profile', '--json', '--threads', '1', '--region', 'eu-west']);
  assert.equal(run.code, 0, run.stderr);
  const { manifest, roles } = JSON.parse(run.stdout) as {
    manifest: Record<string, unknown>;
    roles: { role: string; fits: boolean; why: string }[];
  };
  assert.deepEqual(Object.keys(manifest).sort(), [
    'accelerator',
    'clientVersion',
    'cpuCores',
    'freeMemoryGiB',
    'layerMs',
    'memoryGiB',
    'network',
    'region',
    'speedTier',
    'workloads',
  ]);
  assert.match(String(manifest.speedTier), /^T[1-5]$/);
  assert.equal(manifest.network, 'unmeasured');
  assert.equal(manifest.region, 'eu-west');
  assert.equal(Math.log2(Number(manifest.memoryGiB)) % 1, 0);
  assert.deepEqual(
    roles.map((r) => r.role),
    ['driver', 'worker', 'validator', 'verifier', 'daemon'],
  );
  assert.ok(
    roles.every((r) => r.fits),
    'stories260K fits anywhere',
  );
});

test('tessera profile with a registry that does not answer says so in one line and exits 1', async () => {
  const run = await runTessera(['profile', '--registry', `127.0.0.1:${await closedPort()}`]);
  assert.equal(run.code, 1);
  const lines = run.stderr.trim().split('\n');
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0]!, /^tessera: registry 127\.0\.0\.1:\d+ did not answer: /);
});
