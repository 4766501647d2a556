// The layering rule of docs/ARCHITECTURE.md ("Code layout"), enforced: a folder of src/ imports only
// folders on lower layers, and roles on the same layer never import each other.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC = join(ROOT, 'src');

/** Lowest first; folders on one line are siblings that may not import each other. */
export const LAYERS: readonly (readonly string[])[] = [
  ['core'],
  ['tensor'],
  ['crypto'],
  ['model'],
  ['proto'],
  ['rpc', 'metrics'],
  ['protocol'],
  ['audit'],
  ['chain'],
  ['registry'],
  ['escrow'],
  ['node', 'verifier', 'client'],
  ['gateway'],
  ['cli'],
];

function layerOf(folder: string): number {
  const index = LAYERS.findIndex((layer) => layer.includes(folder));
  assert.notEqual(
    index,
    -1,
    `src/${folder} is in no layer of test/layout/imports.test.ts: add it there and to docs/ARCHITECTURE.md`,
  );
  return index;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'wasm' ? [] : sourceFiles(path);
    return /\.(ts|js)$/.test(entry.name) && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

const IMPORT =
  /(?:import|export)\s[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)|new URL\(\s*['"](\.{1,2}\/[^'"]+\.(?:ts|js))['"]/g;

/** Every relative import of a src/ file (tests excluded) as [importing folder, imported folder, file]. */
function edges(): [string, string, string][] {
  const found: [string, string, string][] = [];
  for (const file of sourceFiles(SRC)) {
    const from = relative(SRC, file).split('/')[0]!;
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const target = relative(SRC, resolve(dirname(file), (match[1] ?? match[2] ?? match[3])!));
      // The CLI starts roles as child processes of its own bin: that is a path, not a layer.
      if (target === '../bin/tessera.js') continue;
      if (target.startsWith('..')) {
        found.push([from, `outside src: ${target}`, relative(ROOT, file)]);
        continue;
      }
      const to = target.split('/')[0]!;
      if (to !== from) found.push([from, to, relative(ROOT, file)]);
    }
  }
  return found;
}

test('every src/ folder belongs to a layer', () => {
  for (const entry of readdirSync(SRC, { withFileTypes: true })) if (entry.isDirectory()) layerOf(entry.name);
});

test('src/ imports flow down the layers and never sideways between roles', () => {
  const wrong = edges()
    .filter(([from, to]) => to.startsWith('outside src') || layerOf(to) >= layerOf(from))
    .map(([from, to, file]) => `${file}: src/${from} imports ${to.startsWith('outside') ? to : `src/${to}`}`);
  assert.deepEqual([...new Set(wrong)], []);
});

test('the rule can fail: an upward import is reported', () => {
  assert.ok(layerOf('cli') > layerOf('tensor'));
  assert.ok(layerOf('node') === layerOf('client'));
});
