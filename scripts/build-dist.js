// `npm run build` (and `npm ci`, through prepare): compiles src/ into dist/ with tsconfig.build.json,
// then writes dist/BUILD with the time the build began. bin/tessera.js runs dist/ only while no source
// is newer than that, so an edited checkout never runs stale code. `--root DIR` builds another copy
// of the package (test/cli/dist.test.ts builds a throwaway one).
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const at = process.argv.indexOf('--root');
const root = at < 0 ? new URL('..', import.meta.url).pathname : resolve(process.argv[at + 1]);
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

const startedMs = Date.now();
// A clean build: a source deleted since the last one leaves no module behind.
rmSync(join(root, 'dist'), { recursive: true, force: true });
const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);
writeFileSync(join(root, 'dist', 'BUILD'), JSON.stringify({ startedMs }) + '\n');
