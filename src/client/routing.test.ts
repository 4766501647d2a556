import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseRoute, NoRouteError, type Candidate } from './routing.ts';

const node = (nodeId: string, shardIndex: number, extra: Partial<Candidate> = {}): Candidate => ({
  nodeId,
  endpoint: `127.0.0.1:${1000 + shardIndex}`,
  shardIndex,
  activeSessions: 0,
  maxSessions: 8,
  computeUsPerToken: 100,
  pricePer1kTokens: 10,
  tls: false,
  rttUs: 200,
  ...extra,
});

test('each shard gets the node with the least round trip plus compute time', () => {
  const route = chooseRoute('m', 2, [
    node('a0', 0, { rttUs: 900 }),
    node('b0', 0, { rttUs: 300, computeUsPerToken: 500 }),
    node('c0', 0, { rttUs: 400, computeUsPerToken: 50 }),
    node('a1', 1, { rttUs: 100 }),
  ]);
  assert.deepEqual(
    route.map((h) => h.nodeId),
    ['c0', 'a1'],
  );
  assert.deepEqual(
    route.map((h) => h.shardIndex),
    [0, 1],
  );
});

test('load and price break ties between equally fast nodes but never outweigh speed', () => {
  const busy = node('busy', 0, { activeSessions: 7 });
  const idle = node('idle', 0, { activeSessions: 0 });
  assert.equal(chooseRoute('m', 1, [busy, idle])[0]!.nodeId, 'idle');
  const cheap = node('cheap', 0, { pricePer1kTokens: 1 });
  const dear = node('dear', 0, { pricePer1kTokens: 1000 });
  assert.equal(chooseRoute('m', 1, [dear, cheap])[0]!.nodeId, 'cheap');
  // a busy node twice as fast still wins over an idle slow one
  const fastBusy = node('fast-busy', 0, { activeSessions: 7, rttUs: 50, computeUsPerToken: 50 });
  assert.equal(chooseRoute('m', 1, [idle, fastBusy])[0]!.nodeId, 'fast-busy');
});

test('banned, unreachable and full nodes are left out; an uncovered shard is named', () => {
  const candidates = [
    node('banned', 0, { rttUs: 1 }),
    node('silent', 0, { rttUs: undefined }),
    node('full', 0, { activeSessions: 8 }),
    node('ok', 0, { rttUs: 5000 }),
    node('gone', 1, { rttUs: undefined }),
  ];
  assert.equal(chooseRoute('m', 1, candidates, new Set(['banned']))[0]!.nodeId, 'ok');
  assert.throws(
    () => chooseRoute('m', 3, candidates, new Set(['banned'])),
    (error: unknown) => {
      assert.ok(error instanceof NoRouteError);
      assert.deepEqual(error.missingShards, [1, 2]);
      assert.match(error.message, /shard 1's 1 node\(s\) are unreachable, full or banned; shard 2 has no live node/);
      return true;
    },
  );
});
