import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chooseRoute,
  NoRouteError,
  PROBATION_SHARE,
  PROBATION_STEPS,
  probationShare,
  type Candidate,
} from './routing.ts';
import { ServiceRecord } from './service-record.ts';

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
  goodSteps: PROBATION_STEPS,
  ...extra,
});

test('each shard gets the node with the least round trip plus measured time per token', () => {
  const route = chooseRoute('m', 2, [
    node('a0', 0, { rttUs: 900, measuredUsPerToken: 100 }),
    node('b0', 0, { rttUs: 300, measuredUsPerToken: 500 }),
    node('c0', 0, { rttUs: 400, measuredUsPerToken: 50 }),
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
  const fastBusy = node('fast-busy', 0, { activeSessions: 7, rttUs: 50, measuredUsPerToken: 50 });
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
      assert.equal(error.transient, false, 'shard 2 has no node to wait for');
      return true;
    },
  );
  // only listed nodes that are full, silent or set aside: a moment may free one
  assert.throws(
    () => chooseRoute('m', 2, candidates, new Set(['banned', 'ok'])),
    (error: unknown) => error instanceof NoRouteError && error.transient && error.missingShards.join() === '0,1',
  );
});

test('what a node claims of its speed is never used: a measured node beats one that claims to take no time', () => {
  const liar = node('liar', 0, { computeUsPerToken: 0, rttUs: 200 });
  const measured = node('measured', 0, { computeUsPerToken: 1_000_000, measuredUsPerToken: 300, rttUs: 200 });
  // unmeasured, the liar counts as the slowest measured node of its shard: a tie that its id breaks
  assert.equal(chooseRoute('m', 1, [liar, measured])[0]!.nodeId, 'measured');
  const slower = node('slower', 0, { measuredUsPerToken: 900, rttUs: 200 });
  assert.equal(chooseRoute('m', 1, [liar, measured, slower])[0]!.nodeId, 'measured');
});

test('a new node gets a probation share of sessions that grows with its verified steps; alone in its shard it gets them all', () => {
  const established = node('old', 0, { measuredUsPerToken: 5_000 });
  const fresh = (goodSteps: number) => node('new', 0, { goodSteps, rttUs: 1, computeUsPerToken: 0 });
  assert.equal(probationShare(0), PROBATION_SHARE.min);
  assert.equal(probationShare(PROBATION_STEPS), PROBATION_SHARE.max);
  assert.ok(probationShare(PROBATION_STEPS / 2) > probationShare(1));
  const chosen = (goodSteps: number, draw: number) =>
    chooseRoute('m', 1, [established, fresh(goodSteps)], new Set(), () => draw)[0]!.nodeId;
  assert.equal(chosen(0, PROBATION_SHARE.min - 0.001), 'new');
  assert.equal(chosen(0, PROBATION_SHARE.min), 'old');
  assert.equal(chosen(PROBATION_STEPS - 1, 0.4), 'new');
  // off probation it competes on measured time alone: faster here, so always chosen
  assert.equal(chosen(PROBATION_STEPS, 0.99), 'new');
  assert.equal(chooseRoute('m', 1, [fresh(0)], new Set(), () => 0.99)[0]!.nodeId, 'new');
});

test('the service record shares a decode step among its hops, counts verified steps, and a failure restarts probation', () => {
  const record = new ServiceRecord();
  const hops = ['a', 'b'].map((nodeId, i) => ({ nodeId, endpoint: `e${i}`, shardIndex: i, tls: false }));
  record.served(hops, 10_000, 5);
  assert.deepEqual(record.of('a'), { goodSteps: 1 });
  record.served(hops, 2_000, 1);
  assert.deepEqual(record.of('b'), { goodSteps: 2, usPerToken: 1_000 });
  record.served(hops, 4_000, 1);
  assert.equal(record.of('a').usPerToken, 1_200);
  record.failed('a');
  assert.equal(record.of('a').goodSteps, 0);
  assert.equal(record.of('b').goodSteps, 3);
});
