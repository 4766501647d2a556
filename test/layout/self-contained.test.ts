// A clone is the whole project: nothing in it may reach for the team's folder beside the checkout.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OUTSIDE = ['..', 'shared'].join('/');

function files(path: string): string[] {
  if (statSync(path).isFile()) return [path];
  return readdirSync(path, { withFileTypes: true }).flatMap((entry) =>
    entry.name === 'node_modules' || entry.name === 'build' ? [] : files(join(path, entry.name)),
  );
}

test(`no file under src/, test/, bench/, scripts/ or the README names ${OUTSIDE}`, () => {
  const offenders = ['src', 'test', 'bench', 'scripts', 'README.md', 'docs']
    .map((path) => join(ROOT, path))
    .filter((path) => existsSync(path))
    .flatMap(files)
    .filter((path) => /\.(ts|js|md|json|sh)$/.test(path) && readFileSync(path, 'utf8').includes(OUTSIDE))
    .map((path) => relative(ROOT, path));
  assert.deepEqual(offenders, []);
});
