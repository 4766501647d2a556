import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiKeyMatcher, ApiKeysFileError, readApiKeysFile } from './api-keys.ts';

test('a keys file holds one key per line; blank and # lines are skipped; others may not read it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-api-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'keys');
  writeFileSync(path, '# team a\nsk-a\n\n  sk-b  \n', { mode: 0o600 });
  chmodSync(path, 0o600);
  assert.deepEqual(readApiKeysFile(path), ['sk-a', 'sk-b']);
  chmodSync(path, 0o644);
  assert.throws(
    () => readApiKeysFile(path),
    (e: unknown) => e instanceof ApiKeysFileError && /chmod 600/.test(e.message),
  );
  writeFileSync(join(dir, 'empty'), '# none yet\n', { mode: 0o600 });
  assert.throws(() => readApiKeysFile(join(dir, 'empty')), /holds no key/);
  assert.throws(() => readApiKeysFile(join(dir, 'missing')), /does not exist/);
});

test('the matcher accepts exactly the keys it holds', () => {
  const matcher = new ApiKeyMatcher(['sk-a', 'sk-b']);
  assert.ok(matcher.enabled);
  assert.ok(matcher.matches('sk-a') && matcher.matches('sk-b'));
  for (const guess of ['', 'sk-', 'sk-ab', 'SK-A', 'sk-a ']) assert.equal(matcher.matches(guess), false, guess);
  assert.equal(new ApiKeyMatcher([]).enabled, false);
});
