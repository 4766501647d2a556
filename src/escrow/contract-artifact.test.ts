import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { escrowArtifact } from './evm-backend.ts';
import { ESCROW_ERROR_CODES } from '../registry/settlement-backend.ts';

const root = new URL('../../', import.meta.url);

test('the committed TesseraEscrow.json is exactly what its source compiles to', () => {
  const build = spawnSync(process.execPath, ['scripts/build-contracts.js', '--stdout'], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(build.status, 0, build.stderr);
  const committed = readFileSync(new URL('./contracts/TesseraEscrow.json', import.meta.url), 'utf8');
  assert.equal(build.stdout, committed, 'src/escrow/contracts/TesseraEscrow.json is stale: run `npm run contracts`');
});

test('the contract raises exactly the error codes the back ends share', () => {
  const names = escrowArtifact.abi.flatMap((item) => (item.type === 'error' ? [item.name] : []));
  assert.deepEqual(new Set(names), new Set(ESCROW_ERROR_CODES));
});
