// Runs every *.test.ts under src/ and test/ with Node's own test runner.
// Node 20 neither expands globs after --test nor finds .ts files by itself (it reports 0 tests and
// exits green), so this script lists the files and fails a run that executed no test.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

function findTests(dir) {
  let found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found = found.concat(findTests(path));
    else if (entry.name.endsWith('.test.ts')) found.push(path);
  }
  return found;
}

const filter = process.argv.slice(2);
const files = ['src', 'test']
  .flatMap((dir) => findTests(join(root, dir)))
  .map((path) => relative(root, path))
  .filter((path) => filter.length === 0 || filter.some((f) => path.includes(f)))
  .sort();
if (files.length === 0) {
  console.error('run-tests: no test files found' + (filter.length ? ` matching ${filter.join(' ')}` : ''));
  process.exit(1);
}

const scratch = mkdtempSync(join(tmpdir(), 'tessera-tests-'));
const tap = join(scratch, 'result.tap');
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...files,
  ],
  { cwd: root, stdio: 'inherit' },
);
const summary = readFileSync(tap, 'utf8');
rmSync(scratch, { recursive: true, force: true });
const count = (name) => Number((summary.match(new RegExp(`^# ${name} (\\d+)$`, 'm')) ?? [])[1] ?? 0);
const tests = count('tests');
if (tests === 0) {
  console.error('run-tests: the runner executed no test');
  process.exit(1);
}
process.exit(result.status ?? 1);
