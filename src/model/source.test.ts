import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseHfSpec, resolveModelSource } from './source.ts';

const dir = mkdtempSync(join(tmpdir(), 'model-source-'));
const content = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7 + (i >> 8)) & 0xff));
const sha256 = createHash('sha256').update(content).digest('hex');

interface FileBehaviour {
  /** What the hub announces (x-linked-size / x-linked-etag on its redirect). */
  size: number;
  sha256?: string;
  /** Bytes after which the next GET drops its connection (once). */
  dropAfter?: number;
}

const files = new Map<string, FileBehaviour>();
const ranges: (string | undefined)[] = [];
let server: Server;
let hubUrl: string;

before(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname.startsWith('/owner/old-name/')) {
      // A renamed repository: the hub redirects to the new name before the LFS redirect.
      return void res.writeHead(307, { location: url.pathname.replace('/owner/old-name/', '/owner/repo/') }).end();
    }
    const hub = /^\/([^/]+)\/([^/]+)\/resolve\/main\/(.+)$/.exec(url.pathname);
    if (hub) {
      const behaviour = files.get(hub[3]!);
      if (!behaviour) return void res.writeHead(404).end();
      // Like huggingface.co: the LFS hash and size ride on the redirect to the CDN.
      res.writeHead(302, {
        location: `/cdn/${hub[3]}`,
        'x-linked-size': String(behaviour.size),
        ...(behaviour.sha256 ? { 'x-linked-etag': `"${behaviour.sha256}"` } : {}),
      });
      return void res.end();
    }
    const cdn = /^\/cdn\/(.+)$/.exec(url.pathname);
    const behaviour = cdn && files.get(cdn[1]!);
    if (!behaviour) return void res.writeHead(404).end();
    if (req.method === 'HEAD') return void res.writeHead(200, { 'content-length': content.length }).end();
    ranges.push(req.headers.range);
    const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
    const body = content.subarray(start);
    res.writeHead(start > 0 ? 206 : 200, {
      'content-length': body.length,
      ...(start > 0 ? { 'content-range': `bytes ${start}-${content.length - 1}/${content.length}` } : {}),
    });
    if (behaviour.dropAfter !== undefined) {
      const cut = behaviour.dropAfter;
      behaviour.dropAfter = undefined;
      res.write(body.subarray(0, cut), () => res.destroy());
      return;
    }
    res.end(body);
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  hubUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise((done) => server.close(done));
  rmSync(dir, { recursive: true, force: true });
});

test('hf: specs parse, and names that could climb out of the cache are refused', () => {
  assert.deepEqual(parseHfSpec('hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q8_0.gguf'), {
    owner: 'Qwen',
    repo: 'Qwen2.5-0.5B-Instruct-GGUF',
    file: 'qwen2.5-0.5b-instruct-q8_0.gguf',
  });
  assert.deepEqual(parseHfSpec('hf:o/r/sub/dir/m.gguf'), { owner: 'o', repo: 'r', file: 'sub/dir/m.gguf' });
  assert.equal(parseHfSpec('./model.gguf'), undefined);
  for (const bad of ['hf:owner/repo', 'hf:o/r/../../etc/passwd', 'hf:o//f.gguf', 'hf:o/r/.hidden']) {
    assert.throws(
      () => parseHfSpec(bad),
      (error: Error & { code?: string }) => error.code === 'BAD_SPEC' && error.message.includes(bad),
    );
  }
});

test('a local path resolves to itself; a missing one is NOT_FOUND', async () => {
  const path = join(dir, 'local.gguf');
  writeFileSync(path, 'x');
  assert.equal(await resolveModelSource(path, { cacheDir: dir }), path);
  await assert.rejects(
    resolveModelSource(join(dir, 'missing.gguf'), { cacheDir: dir }),
    (error: Error & { code?: string }) => error.code === 'NOT_FOUND' && error.message.includes('missing.gguf'),
  );
});

test('downloads on first use with progress, resumes a dropped connection, then reuses the cache', async () => {
  files.set('model.gguf', { size: content.length, sha256, dropAfter: 70_000 });
  ranges.length = 0;
  const cacheDir = join(dir, 'cache1');
  const progress: [number, number | undefined][] = [];
  const path = await resolveModelSource('hf:owner/repo/model.gguf', {
    cacheDir,
    hubUrl,
    onProgress: (received, total) => progress.push([received, total]),
  });
  assert.equal(path, join(cacheDir, 'hf', 'owner', 'repo', 'model.gguf'));
  assert.deepEqual(readFileSync(path), content);
  assert.equal(ranges[0], undefined);
  assert.ok(
    ranges.length === 2 && /^bytes=\d+-$/.test(ranges[1]!) && Number(ranges[1]!.slice(6, -1)) >= 70_000,
    `second request resumes: ${ranges.join(', ')}`,
  );
  assert.equal(existsSync(`${path}.part`), false);
  assert.deepEqual(progress.at(-1), [content.length, content.length]);
  assert.ok(
    progress.every(([received], i) => i === 0 || received >= progress[i - 1]![0] || received === 0),
    'progress only goes back when a restart begins at 0',
  );

  files.set('model.gguf', { size: content.length, sha256: 'cd'.repeat(32) });
  await assert.rejects(
    resolveModelSource('hf:owner/old-name/model.gguf', { cacheDir, hubUrl }),
    (error: Error & { code?: string }) => error.code === 'HASH_MISMATCH',
    "the hash announced after the hub's own redirect is checked",
  );

  files.delete('model.gguf'); // a cache hit must not touch the network
  assert.equal(await resolveModelSource('hf:owner/repo/model.gguf', { cacheDir, hubUrl }), path);
});

test('a .part left by an earlier run is continued with a Range request', async () => {
  files.set('resume.gguf', { size: content.length, sha256 });
  ranges.length = 0;
  const cacheDir = join(dir, 'cache2');
  const target = join(cacheDir, 'hf', 'o', 'r', 'resume.gguf');
  mkdirSync(join(cacheDir, 'hf', 'o', 'r'), { recursive: true });
  writeFileSync(`${target}.part`, content.subarray(0, 123_456));
  assert.equal(await resolveModelSource('hf:o/r/resume.gguf', { cacheDir, hubUrl }), target);
  assert.deepEqual(ranges, ['bytes=123456-']);
  assert.deepEqual(readFileSync(target), content);
});

test('a size or hash that differs from what the hub announced fails and removes the partial file', async () => {
  const cacheDir = join(dir, 'cache3');
  files.set('big.gguf', { size: content.length + 10 });
  await assert.rejects(
    resolveModelSource('hf:o/r/big.gguf', { cacheDir, hubUrl }),
    (error: Error & { code?: string }) =>
      error.code === 'SIZE_MISMATCH' &&
      error.message.includes(`has ${content.length} bytes, the server announced ${content.length + 10}`),
  );
  files.set('bad.gguf', { size: content.length, sha256: 'ab'.repeat(32) });
  await assert.rejects(
    resolveModelSource('hf:o/r/bad.gguf', { cacheDir, hubUrl }),
    (error: Error & { code?: string }) =>
      error.code === 'HASH_MISMATCH' &&
      error.message.includes(`sha256 ${sha256}, the server announced ${'ab'.repeat(32)}`),
  );
  assert.equal(existsSync(join(cacheDir, 'hf', 'o', 'r', 'bad.gguf')), false);
  assert.equal(existsSync(join(cacheDir, 'hf', 'o', 'r', 'bad.gguf.part')), false);
  await assert.rejects(
    resolveModelSource('hf:o/r/absent.gguf', { cacheDir, hubUrl }),
    (error: Error & { code?: string }) => error.code === 'NOT_FOUND',
  );
});

test('with no network the error says so and names --model PATH', async () => {
  const closed = createServer();
  await new Promise<void>((ready) => closed.listen(0, '127.0.0.1', ready));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((done) => closed.close(done));
  await assert.rejects(
    resolveModelSource('hf:o/r/m.gguf', { cacheDir: join(dir, 'cache4'), hubUrl: `http://127.0.0.1:${port}` }),
    (error: Error & { code?: string }) => {
      assert.equal(error.code, 'OFFLINE');
      assert.match(error.message, /the network is unreachable/);
      assert.match(error.message, /--model PATH/);
      return true;
    },
  );
});
