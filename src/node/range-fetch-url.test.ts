import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopbackHost, ModelUrlError, resolveModelUrl } from './range-fetch-url.ts';

const operator = { allowLoopbackHttp: true };
const manifest = { allowLoopbackHttp: false };

test('hf:OWNER/REPO/FILE.gguf maps to the resolve URL of the main branch, @REVISION to that revision', () => {
  assert.equal(
    resolveModelUrl('hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q8_0.gguf', manifest).href,
    'https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-q8_0.gguf',
  );
  assert.equal(
    resolveModelUrl('hf:owner/repo/sub/dir/model.Q4_K_M.gguf@0123abc', manifest).href,
    'https://huggingface.co/owner/repo/resolve/0123abc/sub/dir/model.Q4_K_M.gguf',
  );
});

test('https URLs pass; http only to a loopback host the operator typed', () => {
  assert.equal(resolveModelUrl('https://example.com/m.gguf', manifest).href, 'https://example.com/m.gguf');
  for (const url of ['http://127.0.0.1:8080/m.gguf', 'http://[::1]:8080/m.gguf', 'http://localhost/m.gguf'])
    assert.equal(resolveModelUrl(url, operator).protocol, 'http:', url);
  const refused = (url: string, options: { allowLoopbackHttp: boolean }, code: string, reason: RegExp) =>
    assert.throws(
      () => resolveModelUrl(url, options),
      (error) => error instanceof ModelUrlError && error.code === code && reason.test(error.message),
      url,
    );
  refused('http://example.com/m.gguf', operator, 'MODEL_URL_INSECURE', /except to a loopback host/);
  refused('http://10.0.0.1/m.gguf', operator, 'MODEL_URL_INSECURE', /except to a loopback host/);
  refused('http://127.0.0.1/m.gguf', manifest, 'MODEL_URL_INSECURE', /given on the command line/);
  refused('ftp://example.com/m.gguf', operator, 'MODEL_URL_INVALID', /ftp: scheme/);
  refused('https://user:secret@example.com/m.gguf', operator, 'MODEL_URL_INVALID', /credentials/);
  refused('hf:owner/repo', operator, 'MODEL_URL_INVALID', /hf:OWNER\/REPO\/FILE.gguf/);
  refused('hf:owner/repo/../x.gguf', operator, 'MODEL_URL_INVALID', /\. or \.\./);
  refused('not a url', operator, 'MODEL_URL_INVALID', /is not a URL/);
});

test('loopback hosts are 127.0.0.0/8, ::1 and localhost, nothing else', () => {
  assert.deepEqual(
    [
      '127.0.0.1',
      '127.9.9.9',
      '[::1]',
      'localhost',
      '128.0.0.1',
      '[::ffff:127.0.0.1]',
      'localhost.example.com',
      '0.0.0.0',
    ].map(isLoopbackHost),
    [true, true, true, true, false, false, false, false],
  );
});
