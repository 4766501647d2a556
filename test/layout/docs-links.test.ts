// The documentation is read from a clone: a link to a file that moved, or a code comment citing a section
// that was renumbered, sends the reader nowhere.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The README and every Markdown file under docs/. */
function documents(): string[] {
  const docs = join(ROOT, 'docs');
  return [
    join(ROOT, 'README.md'),
    ...readdirSync(docs)
      .filter((name) => name.endsWith('.md'))
      .map((name) => join(docs, name)),
  ];
}

/** Relative link targets of a Markdown text, without their #fragment; code is not prose, so code spans are skipped. */
export function relativeLinks(markdown: string): string[] {
  const prose = markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)]
    .map((match) => match[1]!)
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target) && !target.startsWith('#'))
    .map((target) => target.split('#')[0]!);
}

/** Links of `file` whose target does not exist, as "file: target". */
function brokenLinks(file: string, markdown: string): string[] {
  return relativeLinks(markdown)
    .filter((target) => !existsSync(resolve(dirname(file), target)))
    .map((target) => `${relative(ROOT, file)}: ${target}`);
}

/** The section numbers `text` cites as "ARCHITECTURE.md §N" that `sections` lacks. */
function unknownSections(text: string, sections: ReadonlySet<number>): number[] {
  return [...text.matchAll(/ARCHITECTURE\.md §(\d+)/g)].map((m) => Number(m[1])).filter((n) => !sections.has(n));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|js|proto)$/.test(entry.name) ? [path] : [];
  });
}

test('every relative link in the README and docs/ points at a file of the checkout', () => {
  const files = documents();
  assert.ok(
    files.some((f) => f.endsWith(join('docs', 'ARCHITECTURE.md'))),
    'docs/ARCHITECTURE.md exists',
  );
  assert.deepEqual(
    files.flatMap((file) => brokenLinks(file, readFileSync(file, 'utf8'))),
    [],
  );
});

test('every "docs/ARCHITECTURE.md §N" a source file cites is a numbered section there', () => {
  const architecture = readFileSync(join(ROOT, 'docs', 'ARCHITECTURE.md'), 'utf8');
  const sections = new Set([...architecture.matchAll(/^## (\d+)\. /gm)].map((m) => Number(m[1])));
  assert.ok(sections.has(11), 'docs/ARCHITECTURE.md numbers its sections "## N. Title"');
  const wrong = ['src', 'proto', 'test']
    .flatMap((dir) => sourceFiles(join(ROOT, dir)))
    .flatMap((file) =>
      unknownSections(readFileSync(file, 'utf8'), sections).map((n) => `${relative(ROOT, file)}: §${n}`),
    );
  assert.deepEqual(wrong, []);
});

test('the checks can fail: a missing target and an unknown section are reported', () => {
  const text = 'See [the plan](docs/NOPE.md#top), [ok](README.md), [web](https://example.org), `[code](x.md)`.';
  assert.deepEqual(relativeLinks(text), ['docs/NOPE.md', 'README.md']);
  assert.deepEqual(brokenLinks(join(ROOT, 'README.md'), text), ['README.md: docs/NOPE.md']);
  // built, not written out, so that this file cites no section itself
  const cite = (n: number) => `docs/ARCHITECTURE.md §${n}`;
  assert.deepEqual(unknownSections(`see ${cite(2)} and §9, then ${cite(99)}`, new Set([2])), [99]);
});
