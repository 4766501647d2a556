import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blame, BUSY_BACKOFF_MS } from './blame.ts';
import { HopFailure } from './pipeline-session.ts';
import type { RouteHop } from './routing.ts';

// hops over spans of a 6-shard model: blame goes by position in the route, whatever each hop ran
const route: RouteHop[] = [
  [0, 3],
  [3, 4],
  [4, 6],
].map(([start, end], i) => ({
  nodeId: `0x${i}`,
  endpoint: `127.0.0.1:${5000 + i}`,
  shardIndex: start!,
  shardEnd: end!,
  tls: false,
}));
const allAlive = async () => true;
const deadOnly = (nodeId: string) => async (hop: RouteHop) => hop.nodeId !== nodeId;

test('a deeper hop named without a signed report that fits is never banned, even when it does not answer: the first hop, which delivered the name, is', async () => {
  const unsigned = new HopFailure('next hop failed', 'hop', '0x2', 'NEXT_HOP_FAILED');
  assert.deepEqual((await blame(route, unsigned, allAlive)).bans, [{ nodeId: '0x0' }]);
  assert.deepEqual((await blame(route, unsigned, deadOnly('0x2'))).bans, [{ nodeId: '0x0' }]);
});

test('a deeper hop named in a signed report and seen dead by the client itself is banned', async () => {
  const failure = new HopFailure('next hop failed', 'hop', '0x1', 'NEXT_HOP_FAILED', '0x0');
  assert.deepEqual((await blame(route, failure, deadOnly('0x1'))).bans, [{ nodeId: '0x1' }]);
});

test('a signed report about a next hop that still answers bans the reporter and the named hop, not the first hop', async () => {
  const failure = new HopFailure('next hop failed', 'hop', '0x2', 'NEXT_HOP_FAILED', '0x1');
  assert.deepEqual((await blame(route, failure, allAlive)).bans, [{ nodeId: '0x1' }, { nodeId: '0x2' }]);
});

test("a deeper hop's signed report about itself bans it", async () => {
  const failure = new HopFailure('draining', 'hop', '0x2', 'NODE_DRAINING', '0x2');
  assert.deepEqual((await blame(route, failure, allAlive)).bans, [{ nodeId: '0x2' }]);
});

test('the first hop naming itself is banned; a name outside the route pins the first hop', async () => {
  assert.deepEqual((await blame(route, new HopFailure('x', 'hop', '0x0'), allAlive)).bans, [{ nodeId: '0x0' }]);
  assert.deepEqual((await blame(route, new HopFailure('x', 'hop', '0x99'), allAlive)).bans, [{ nodeId: '0x0' }]);
});

test('busy: the first hop is set aside for a moment only, a deeper one not at all; nothing is banned for long', async () => {
  const full = await blame(route, new HopFailure('full', 'busy', '0x0', 'NODE_FULL'), allAlive);
  assert.deepEqual(full, { bans: [{ nodeId: '0x0', durationMs: BUSY_BACKOFF_MS }], waitMs: 0, reprobe: true });
  const deeper = await blame(route, new HopFailure('full', 'busy', '0x2', 'CLIENT_SESSION_LIMIT'), allAlive);
  assert.deepEqual(deeper, { bans: [], waitMs: BUSY_BACKOFF_MS, reprobe: true });
});

test('expired and stale routes ban nobody; a commitment failure the client checked bans the node it names', async () => {
  for (const kind of ['expired', 'stale'] as const)
    assert.deepEqual((await blame(route, new HopFailure('x', kind, '0x1'), allAlive)).bans, []);
  assert.deepEqual((await blame(route, new HopFailure('x', 'commitment', '0x2'), allAlive)).bans, [{ nodeId: '0x2' }]);
});

test('a failure naming nobody is pinned on the hops that do not answer', async () => {
  assert.deepEqual((await blame(route, new HopFailure('timeout', 'hop'), deadOnly('0x2'))).bans, [{ nodeId: '0x2' }]);
});
