// `tessera gateway` refuses an API keys file it should not trust before it serves anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTessera } from '../support/tessera-cli.ts';

test('an API keys file that others can read, or that holds no key, stops the gateway with the fix', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-gateway-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const shared = join(dir, 'shared-keys');
  writeFileSync(shared, 'sk-one\n');
  chmodSync(shared, 0o644);
  const empty = join(dir, 'empty-keys');
  writeFileSync(empty, '# no key yet\n', { mode: 0o600 });
  chmodSync(empty, 0o600);
  // the registry is never reached: the keys file is checked first
  const args = ['gateway', '--registry', '127.0.0.1:1', '--port', '0', '--metrics-port', '0', '--api-keys-file'];
  const sharedRun = await runTessera([...args, shared]);
  assert.equal(sharedRun.code, 1, sharedRun.stderr);
  assert.match(sharedRun.stderr, /has mode 0644, readable by others; fix it with: chmod 600/);
  const emptyRun = await runTessera([...args, empty]);
  assert.equal(emptyRun.code, 1, emptyRun.stderr);
  assert.match(emptyRun.stderr, /holds no key/);
});
