import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccessGuard, checkJsonContentType, hostNameOf } from './access.ts';
import { ApiError } from './api-error.ts';

function refused(check: () => unknown, status: number, code: string): void {
  assert.throws(check, (error: unknown) => {
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, status);
    assert.equal(error.code, code);
    assert.equal(error.body().error.code, code.toLowerCase());
    return true;
  });
}

test('Host names are read with and without a port, IPv6 in brackets; anything else is malformed', () => {
  assert.equal(hostNameOf('localhost'), 'localhost');
  assert.equal(hostNameOf('LocalHost:8000'), 'localhost');
  assert.equal(hostNameOf('127.0.0.1:65535'), '127.0.0.1');
  assert.equal(hostNameOf('[::1]:8000'), '::1');
  assert.equal(hostNameOf('[::1]'), '::1');
  for (const bad of ['', 'a b', 'host:port', 'user@localhost', '[::1', '127.0.0.1:123456', 'localhost/x'])
    assert.equal(hostNameOf(bad), undefined, bad);
});

test('only loopback names and the allowed hosts are served: DNS rebinding names are 421', () => {
  const guard = new AccessGuard();
  for (const host of ['localhost', '127.0.0.1:8000', '[::1]:8000', 'localhost:1'])
    assert.deepEqual(guard.checkSource({ host }), {});
  refused(() => guard.checkSource({ host: 'attacker.example' }), 421, 'HOST_NOT_ALLOWED');
  refused(() => guard.checkSource({ host: 'attacker.example:8000' }), 421, 'HOST_NOT_ALLOWED');
  refused(() => guard.checkSource({ host: '127.0.0.1.attacker.example' }), 421, 'HOST_NOT_ALLOWED');
  refused(() => guard.checkSource({}), 421, 'HOST_NOT_ALLOWED');
  const withName = new AccessGuard({ allowedHosts: ['gw.internal'] });
  assert.deepEqual(withName.checkSource({ host: 'gw.internal:443' }), {});
  assert.deepEqual(new AccessGuard({ allowedHosts: ['*'] }).checkSource({ host: 'anything.example' }), {});
});

test('an Origin is refused unless loopback or allowed; an allowed one gets CORS headers for itself only', () => {
  const guard = new AccessGuard({ allowedOrigins: ['https://app.example'] });
  const host = '127.0.0.1:8000';
  assert.deepEqual(guard.checkSource({ host, origin: 'http://localhost:3000' }), {
    'access-control-allow-origin': 'http://localhost:3000',
    vary: 'Origin',
  });
  assert.deepEqual(guard.checkSource({ host, origin: 'https://app.example' }), {
    'access-control-allow-origin': 'https://app.example',
    vary: 'Origin',
  });
  for (const origin of ['http://evil.example', 'https://app.example:8443', 'http://app.example', 'null', 'file://'])
    refused(() => guard.checkSource({ host, origin }), 403, 'ORIGIN_NOT_ALLOWED');
});

test('with API keys, /v1 needs one of them as a bearer token', () => {
  const guard = new AccessGuard({ apiKeys: ['sk-one', 'sk-two'] });
  guard.checkKey({ authorization: 'Bearer sk-one' });
  guard.checkKey({ authorization: 'bearer sk-two' });
  refused(() => guard.checkKey({}), 401, 'MISSING_API_KEY');
  refused(() => guard.checkKey({ authorization: 'Basic c2stb25lOg==' }), 401, 'MISSING_API_KEY');
  refused(() => guard.checkKey({ authorization: 'Bearer sk-on' }), 401, 'INVALID_API_KEY');
  refused(() => guard.checkKey({ authorization: 'Bearer sk-one-and-more' }), 401, 'INVALID_API_KEY');
  new AccessGuard().checkKey({});
});

test('a POST body must be declared JSON: text/plain and forms, which pages send without preflight, are 415', () => {
  checkJsonContentType({ 'content-type': 'application/json' });
  checkJsonContentType({ 'content-type': 'Application/JSON; charset=utf-8' });
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined])
    refused(() => checkJsonContentType({ 'content-type': type }), 415, 'UNSUPPORTED_MEDIA_TYPE');
});
