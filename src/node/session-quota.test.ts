import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeStatusError } from '../protocol/forward-status.ts';
import { peerHostOf, SessionQuota } from './session-quota.ts';

const refused = (code: string) => (error: unknown) =>
  error instanceof NodeStatusError && error.code === code && error.kind === 'resource_exhausted';

test('one client key holds at most its share; giving a slot back frees it, once', () => {
  const quota = new SessionQuota({ perClient: 2, perPeer: 10 });
  const owner = { clientKey: 'aa', peerHost: '10.0.0.1', peerExempt: false };
  const first = quota.acquire(owner);
  quota.acquire(owner);
  assert.throws(() => quota.acquire(owner), refused('CLIENT_SESSION_LIMIT'));
  assert.equal(quota.heldByClient('aa'), 2);
  quota.acquire({ ...owner, clientKey: 'bb' });
  first();
  first();
  assert.equal(quota.heldByClient('aa'), 1);
  quota.acquire(owner);
  assert.throws(() => quota.acquire(owner), refused('CLIENT_SESSION_LIMIT'));
});

test('one address with many keys holds at most its share; the registered previous hop is not counted', () => {
  const quota = new SessionQuota({ perClient: 1, perPeer: 3 });
  for (const key of ['a', 'b', 'c']) quota.acquire({ clientKey: key, peerHost: '10.0.0.1', peerExempt: false });
  assert.throws(
    () => quota.acquire({ clientKey: 'd', peerHost: '10.0.0.1', peerExempt: false }),
    refused('PEER_SESSION_LIMIT'),
  );
  assert.equal(quota.heldByPeer('10.0.0.1'), 3);
  quota.acquire({ clientKey: 'd', peerHost: '10.0.0.2', peerExempt: false });
  for (const key of ['e', 'f', 'g', 'h']) quota.acquire({ clientKey: key, peerHost: '10.0.0.9', peerExempt: true });
  assert.equal(quota.heldByPeer('10.0.0.9'), 0);
});

test('peer hosts of the forms gRPC reports', () => {
  assert.equal(peerHostOf('127.0.0.1:5000'), '127.0.0.1');
  assert.equal(peerHostOf('ipv4:10.1.2.3:443'), '10.1.2.3');
  assert.equal(peerHostOf('[::1]:5000'), '::1');
  assert.equal(peerHostOf('ipv6:[fe80::1]:5000'), 'fe80::1');
  assert.equal(peerHostOf('::1'), '::1');
});
