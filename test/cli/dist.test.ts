// The compiled package as `npm ci` leaves it: bin/tessera.js runs dist/ with no TypeScript compiler
// installed at all. The build goes into a throwaway copy of the package whose node_modules lacks tsx,
// typescript and esbuild, so loading any of them at run time fails the command outright. The copy has
// its own src/, so sources edited meanwhile in this checkout do not make its build out of date.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CliRun } from '../support/tessera-cli.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** What would compile TypeScript at run time. */
const COMPILERS = new Set(['tsx', 'typescript', 'esbuild', '@esbuild', '.bin']);

const dir = mkdtempSync(join(tmpdir(), 'tessera-dist-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The package's run-time files, bin copied (a linked bin would resolve back to this checkout's dist/). */
function packageCopy(name: string): string {
  const pkg = join(dir, name);
  mkdirSync(join(pkg, 'bin'), { recursive: true });
  copyFileSync(join(ROOT, 'bin', 'tessera.js'), join(pkg, 'bin', 'tessera.js'));
  for (const file of ['tsconfig.json', 'tsconfig.build.json']) copyFileSync(join(ROOT, file), join(pkg, file));
  cpSync(join(ROOT, 'src'), join(pkg, 'src'), { recursive: true });
  for (const entry of ['package.json', 'models', 'proto']) symlinkSync(join(ROOT, entry), join(pkg, entry));
  mkdirSync(join(pkg, 'node_modules'));
  for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
    if (!COMPILERS.has(entry) && !entry.startsWith('.'))
      symlinkSync(join(ROOT, 'node_modules', entry), join(pkg, 'node_modules', entry));
  }
  return pkg;
}

const built = packageCopy('built');
const unbuilt = packageCopy('unbuilt');

before(() => {
  const build = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-dist.js'), '--root', built], {
    encoding: 'utf8',
  });
  assert.equal(build.status, 0, `${build.stdout}${build.stderr}`);
});

/** A loopback port nothing listens on: the model hub `run` must not need. */
const closedPort = await new Promise<number>((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    server.close(() => resolve(port));
  });
});

function tessera(pkg: string, args: readonly string[], nodeArgs: readonly string[] = []): Promise<CliRun> {
  const env = {
    ...process.env,
    HOME: dir,
    TESSERA_CACHE: join(dir, 'cache'),
    TESSERA_HUB_URL: `http://127.0.0.1:${closedPort}`,
  };
  const child = spawn(process.execPath, [...nodeArgs, join(pkg, 'bin', 'tessera.js'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('tessera --help runs from dist/ without tsx or typescript installed', async () => {
  const run = await tessera(built, ['--help']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, '');
  assert.match(run.stdout, /^Usage: tessera /);
  for (const command of ['run', 'registry', 'node', 'gateway', 'up', 'daemon'])
    assert.match(run.stdout, new RegExp(`^  ${command}\\b`, 'm'), `--help lists ${command}`);
});

test('tessera run from dist/ generates the golden stories260K continuation on worker threads', async () => {
  // Two threads: the wasm kernels' worker is the compiled one, loaded with no tsx shim.
  const run = await tessera(built, ['run', '--max-tokens', '8', '--threads', '2', '--prompt', 'Once upon a time']);
  assert.equal(run.code, 0, run.stderr);
  assert.ok(run.stdout.startsWith(', there was a little girl'), run.stdout);
});

test('without dist/ and without tsx, bin says in one line how to build', async () => {
  const run = await tessera(unbuilt, ['--help']);
  assert.equal(run.code, 1);
  assert.equal(run.stdout, '');
  assert.match(
    run.stderr,
    /^tessera: dist\/ is missing or out of date and tsx is not installed: run `npm run build`\n$/,
  );
});

/** What only a command's work needs; help, which runs none, must load none of it. */
const IMPLEMENTATION_PACKAGES = [
  '@grpc/grpc-js',
  'better-sqlite3',
  '@noble/curves',
  '@huggingface/jinja',
  'cli-progress',
];

/** The node flags that make a run write the URL of every module it resolves, one a line, to `log`. */
function recordingModules(log: string): string[] {
  const hooks = join(dir, 'record-hooks.mjs');
  writeFileSync(
    hooks,
    `import { appendFileSync } from 'node:fs';
let log;
export function initialize(data) { log = data.log; }
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(log, resolved.url + '\\n');
  return resolved;
}
`,
  );
  const register = join(dir, 'record-modules.mjs');
  writeFileSync(
    register,
    `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)}, { data: { log: ${JSON.stringify(log)} } });\n`,
  );
  return ['--import', pathToFileURL(register).href];
}

/** The modules `tessera ...args` resolves from dist/. */
let recordings = 0;

async function modulesLoadedBy(args: readonly string[]): Promise<{ run: CliRun; modules: string[] }> {
  const log = join(dir, `modules-${++recordings}.log`);
  const run = await tessera(built, args, recordingModules(log));
  return {
    run,
    modules: existsSync(log)
      ? readFileSync(log, 'utf8')
          .split('\n')
          .filter((url) => url !== '')
      : [],
  };
}

function assertOnlyRegistrationLoaded(what: string, modules: readonly string[]): void {
  // the recording works: the CLI and commander went through it
  assert.ok(
    modules.some((url) => url.endsWith('/dist/cli/main.js')),
    `${what} loads dist/cli/main.js; recorded:\n${modules.join('\n')}`,
  );
  assert.ok(
    modules.some((url) => url.includes('/node_modules/commander/')),
    `${what} loads commander`,
  );
  for (const pkg of IMPLEMENTATION_PACKAGES) {
    const loaded = modules.filter((url) => url.includes(`/node_modules/${pkg}/`));
    assert.deepEqual(loaded, [], `${what} loads none of ${pkg}`);
  }
  const actions = modules.filter((url) => /\/dist\/cli\/commands\/[^/]+-action\.js$/.test(url));
  assert.deepEqual(actions, [], `${what} loads no command's implementation`);
}

test('tessera --help and every <command> --help from dist/ load only the registrations, no implementation', async () => {
  const { run, modules } = await modulesLoadedBy(['--help']);
  assert.equal(run.code, 0, run.stderr);
  assertOnlyRegistrationLoaded('--help', modules);
  const commands = [...run.stdout.matchAll(/^  ([a-z][\w-]*)\b/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
  assert.ok(commands.includes('node') && commands.includes('stake'), `commands found in:\n${run.stdout}`);
  for (const command of commands) {
    const sub = await modulesLoadedBy([command, '--help']);
    assert.equal(sub.run.code, 0, `${command} --help: ${sub.run.stderr}`);
    assert.match(sub.run.stdout, new RegExp(`^Usage: tessera ${command} `), `${command} --help prints its usage`);
    assertOnlyRegistrationLoaded(`${command} --help`, sub.modules);
  }
});

test('a command run from dist/ loads its implementation when it runs', async () => {
  const key = join(dir, 'loaded.key');
  const { run, modules } = await modulesLoadedBy(['keys', 'new', '--out', key]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^0x[0-9a-f]{40}\n$/);
  assert.ok(
    modules.some((url) => url.endsWith('/dist/cli/commands/keys-action.js')),
    `keys new loads keys-action.js; recorded:\n${modules.join('\n')}`,
  );
  assert.ok(
    modules.some((url) => url.includes('/node_modules/@noble/curves/')),
    'keys new loads @noble/curves',
  );
});
