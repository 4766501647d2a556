// One event-naming style for every role's log (src/core/log.ts): lowercase snake_case.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EVENT_NAME } from '../../src/core/log.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sources(path) : entry.name.endsWith('.ts') ? [path] : [];
  });
}

test('every logged event name is lowercase snake_case', () => {
  const events = sources(join(ROOT, 'src')).flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(/\blog\??\.?\(\s*'([^']+)'/g)].map((m) => [relative(ROOT, file), m[1]!]),
  );
  assert.ok(events.length > 20, `found only ${events.length} log calls: the pattern no longer matches the code`);
  assert.deepEqual(
    events.filter(([, event]) => !EVENT_NAME.test(event!)),
    [],
  );
  assert.ok(!EVENT_NAME.test('session.open') && EVENT_NAME.test('session_opened'));
});
