#!/usr/bin/env node
// Runs the compiled CLI in dist/ (built by `npm ci` through prepare, or `npm run build`): no
// TypeScript compiler loads at run time. While a source file is newer than the build (a checkout being
// edited, tests run against it) the sources run instead through tsx, so what runs is always what src/
// says; on a terminal that case names itself, since it is several times slower to start.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('..', import.meta.url);
const stamp = new URL('dist/BUILD', root);

function buildStartedMs() {
  if (!existsSync(stamp)) return undefined;
  try {
    return JSON.parse(readFileSync(stamp, 'utf8')).startedMs;
  } catch {
    return undefined;
  }
}

function sourcesNewerThan(ms) {
  const src = fileURLToPath(new URL('src/', root));
  // A package shipped without its sources has nothing to compare.
  if (!existsSync(src)) return false;
  for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.test.ts')) continue;
    if (statSync(`${entry.parentPath ?? entry.path}/${entry.name}`).mtimeMs > ms) return true;
  }
  return false;
}

const built = buildStartedMs();
if (built !== undefined && !sourcesNewerThan(built)) {
  await import('../dist/cli/main.js');
} else {
  if (process.stderr.isTTY) {
    const why = built === undefined ? 'dist/ is not built' : 'src/ changed since dist/ was built';
    process.stderr.write(`tessera: ${why}; running the sources (\`npm run build\` makes the CLI start fast)\n`);
  }
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write('tessera: dist/ is missing or out of date and tsx is not installed: run `npm run build`\n');
    process.exit(1);
  }
  register();
  await import('../src/cli/main.ts');
}
