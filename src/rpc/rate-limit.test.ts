import { test } from 'node:test';
import assert from 'node:assert/strict';
import { peerHost, RateLimiter } from './rate-limit.ts';

test('a token bucket allows its burst, then refills at its rate', () => {
  const limiter = new RateLimiter(2, 3);
  assert.deepEqual(
    [0, 0, 0].map(() => limiter.take('a', 1000)),
    [0, 0, 0],
  );
  assert.equal(limiter.take('a', 1000), 500);
  assert.equal(limiter.take('b', 1000), 0, 'each key has its own bucket');
  assert.equal(limiter.take('a', 1250), 250);
  assert.equal(limiter.take('a', 1500), 0);
  assert.deepEqual(
    [0, 0, 0, 0].map(() => limiter.take('a', 60_000)),
    [0, 0, 0, 500],
    'a long pause refills no more than the burst',
  );
});

test('making room forgets idle buckets, never an indebted one', () => {
  const limiter = new RateLimiter(1, 1, 2);
  assert.equal(limiter.take('idle', 0), 0);
  assert.equal(limiter.take('busy', 2900), 0);
  // A third key needs room at t=3000: "idle" has refilled and goes; "busy" is still in debt.
  assert.equal(limiter.take('new', 3000), 0);
  assert.equal(limiter.take('busy', 3000), 900);
  assert.equal(limiter.take('new', 3000), 1000, 'the newcomer keeps its own debt');
});

test('peers are keyed by host, whatever their source port', () => {
  assert.equal(peerHost('ipv4:127.0.0.1:53211'), '127.0.0.1');
  assert.equal(peerHost('127.0.0.1:53211'), '127.0.0.1');
  assert.equal(peerHost('ipv6:[::1]:53211'), '::1');
  assert.equal(peerHost('[2001:db8::1]:80'), '2001:db8::1');
  assert.equal(peerHost('unix:/tmp/socket'), '/tmp/socket');
  // as grpc-js's getPeer() writes IPv6 peers (a server on "::"): unbracketed, the port last
  assert.equal(peerHost('::ffff:127.0.0.1:54930'), '::ffff:127.0.0.1');
  assert.equal(peerHost('::1:45226'), '::1');
});
