// Hostile manifests, generated: each parses into a manifest whose every file name is plain, or is
// refused with a ManifestError. Seeds make failures reproduce.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TesseraError } from '../core/errors.ts';
import { memoryInUse, mutate, seededRandom } from '../../test/support/fuzz.ts';
import { validManifest } from '../../test/support/manifest-fixture.ts';
import { ManifestError, parseManifest, type Manifest } from './manifest.ts';
import { plainFileNameProblem } from './plain-file-name.ts';

const HOSTILE_VALUES: readonly unknown[] = [
  null,
  -1,
  2 ** 53 + 2,
  0.5,
  '',
  '../../../../etc/passwd',
  '/etc/passwd',
  '..',
  'a\u0000b',
  'x'.repeat(300),
  [],
  {},
  true,
  [null],
  { index: 0 },
];

/** Every path to a value in `value`, as keys. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== 'object' || value === null) return [prefix];
  const keys = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  return [prefix, ...keys.flatMap((key) => paths((value as Record<string | number, unknown>)[key], [...prefix, key]))];
}

/** The manifest with the value at one random path replaced by a hostile one (or deleted). */
function replaceOne(random: () => number): unknown {
  const manifest = structuredClone(validManifest()) as unknown as Record<string | number, unknown>;
  const all = paths(manifest).filter((p) => p.length > 0);
  const path = all[Math.floor(random() * all.length)]!;
  let parent = manifest;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (random() < 0.1) delete parent[last];
  else parent[last] = HOSTILE_VALUES[Math.floor(random() * HOSTILE_VALUES.length)];
  return manifest;
}

function fileNames(manifest: Manifest): unknown[] {
  return [manifest.tokenizerFile, manifest.source?.file, ...manifest.shards.map((s) => s.file)];
}

test('mutated manifests parse with plain file names only, or fail with a ManifestError', () => {
  const base = Buffer.from(JSON.stringify(validManifest()));
  const outcome = { parsed: 0, refused: 0 };
  for (const seed of [21, 22, 23]) {
    const random = seededRandom(seed);
    for (let i = 0; i < 600; i++) {
      const json =
        random() < 0.5 ? JSON.stringify(replaceOne(random)) : Buffer.from(mutate(base, random)).toString('utf8');
      const label = `seed ${seed} iteration ${i}`;
      const before = memoryInUse();
      try {
        const manifest = parseManifest(json, label);
        for (const name of fileNames(manifest))
          if (name !== undefined) assert.equal(plainFileNameProblem(name), undefined, `${label}: ${String(name)}`);
        outcome.parsed++;
      } catch (error) {
        if (!(error instanceof ManifestError && error instanceof TesseraError))
          assert.fail(`${label}: expected a ManifestError, got ${(error as Error)?.stack ?? String(error)}`);
        outcome.refused++;
      }
      assert.ok(memoryInUse() - before < 4 * json.length + 8 * 2 ** 20, `${label}: memory`);
    }
  }
  assert.ok(outcome.parsed > 0 && outcome.refused > 0, `parsed ${outcome.parsed}, refused ${outcome.refused}`);
});
