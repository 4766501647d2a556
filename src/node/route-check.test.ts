import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeStatusError } from '../protocol/forward-status.ts';
import type { DiscoveredNode } from '../registry/registry-client.ts';
import { LoopbackRouteCheck, RegistryRouteCheck } from './route-check.ts';

const listed = (nodeId: string, endpoint: string, shardIndex = 1, shardEnd = shardIndex + 1): DiscoveredNode => ({
  nodeId,
  endpoint,
  shardIndex,
  shardEnd,
  activeSessions: 0,
  maxSessions: 8,
  computeUsPerToken: 1,
  pricePer1kTokens: 0,
  lastSeenMs: 0,
  tls: false,
});
const hop = (nodeId: string, endpoint: string, shardIndex = 1, shardEnd = shardIndex + 1) => ({
  nodeId,
  endpoint,
  shardIndex,
  shardEnd,
  tls: false,
});
const refused = (code: string) => (error: unknown) => error instanceof NodeStatusError && error.code === code;

function fixture(nodes: DiscoveredNode[]) {
  let now = 0;
  const asked: string[] = [];
  const slept: number[] = [];
  const check = new RegistryRouteCheck(
    async (modelId) => {
      asked.push(modelId);
      return [...nodes];
    },
    () => {},
    {
      maxAgeMs: 5000,
      minRefreshMs: 500,
      now: () => now,
      sleep: async (ms) => {
        slept.push(ms);
        now += ms;
      },
    },
  );
  return { check, asked, slept, nodes, advance: (ms: number) => (now += ms) };
}

test('a next hop must be a registered node holding its span, at its registered endpoint', async () => {
  const { check } = fixture([listed('0xb', '10.0.0.2:7000')]);
  await check.checkNextHop('m', hop('0xb', '10.0.0.2:7000'));
  await assert.rejects(check.checkNextHop('m', hop('0xb', '10.0.0.66:7000')), refused('NEXT_HOP_NOT_REGISTERED'));
  await assert.rejects(check.checkNextHop('m', hop('0xb', '10.0.0.2:7000', 2)), refused('NEXT_HOP_NOT_REGISTERED'));
  await assert.rejects(
    check.checkNextHop('m', hop('0xevil', '169.254.169.254:80')),
    refused('NEXT_HOP_NOT_REGISTERED'),
  );
});

test('a next hop may run any span of the shards its node holds, and no shard beyond them', async () => {
  const { check } = fixture([listed('0xb', '10.0.0.2:7000', 1, 4)]);
  for (const [start, end] of [
    [1, 4],
    [1, 2],
    [2, 4],
    [3, 4],
  ] as const)
    await check.checkNextHop('m', hop('0xb', '10.0.0.2:7000', start, end));
  for (const [start, end] of [
    [0, 2],
    [3, 5],
    [0, 5],
    [4, 5],
  ] as const)
    await assert.rejects(
      check.checkNextHop('m', hop('0xb', '10.0.0.2:7000', start, end)),
      (error: unknown) =>
        refused('NEXT_HOP_NOT_REGISTERED')(error) &&
        (error as Error).message.includes(
          `next hop 0xb at 10.0.0.2:7000 is not a registered node of m holding shard${end - start > 1 ? `s ${start}–${end - 1}` : ` ${start}`}`,
        ),
    );
  // a previous hop is recognised for a sub-span too
  assert.equal(await check.isPreviousHop('m', hop('0xb', '10.0.0.2:7000', 2, 3), '10.0.0.2'), true);
  assert.equal(await check.isPreviousHop('m', hop('0xb', '10.0.0.2:7000', 2, 5), '10.0.0.2'), false);
});

test('the listing is cached; a hop missing from a fresh one waits for one later ask, shared by every such Open', async () => {
  const { check, asked, slept, nodes, advance } = fixture([listed('0xb', '10.0.0.2:7000')]);
  await check.checkNextHop('m', hop('0xb', '10.0.0.2:7000'));
  await check.checkNextHop('m', hop('0xb', '10.0.0.2:7000'));
  assert.equal(asked.length, 1);
  advance(100);
  // a node that registered after the listing was fetched is found by the later ask
  nodes.push(listed('0xc', '10.0.0.3:7000'));
  await Promise.all([
    check.checkNextHop('m', hop('0xc', '10.0.0.3:7000')),
    ...Array.from({ length: 20 }, () =>
      assert.rejects(check.checkNextHop('m', hop('0xd', '10.0.0.4:7000')), refused('NEXT_HOP_NOT_REGISTERED')),
    ),
  ]);
  assert.equal(asked.length, 2, 'misses do not make every Open ask the registry');
  assert.deepEqual(slept, [400], 'the later ask waits out the rest of minRefreshMs');
  // a listing older than minRefreshMs asks again at once
  advance(600);
  await assert.rejects(check.checkNextHop('m', hop('0xd', '10.0.0.4:7000')), refused('NEXT_HOP_NOT_REGISTERED'));
  assert.equal(asked.length, 3);
  assert.deepEqual(slept, [400]);
});

test('an unreachable registry: NEXT_HOP_UNVERIFIED, and the next Open asks again', async () => {
  let fail = true;
  const check = new RegistryRouteCheck(
    async () => {
      if (fail) throw Object.assign(new Error('down'), { details: 'connection refused' });
      return [listed('0xb', '10.0.0.2:7000')];
    },
    () => {},
  );
  await assert.rejects(check.checkNextHop('m', hop('0xb', '10.0.0.2:7000')), refused('NEXT_HOP_UNVERIFIED'));
  fail = false;
  await check.checkNextHop('m', hop('0xb', '10.0.0.2:7000'));
});

test('the previous hop is recognised by its registered host only', async () => {
  const { check } = fixture([listed('0xa', '10.0.0.1:7000', 0)]);
  assert.equal(await check.isPreviousHop('m', hop('0xa', '10.0.0.1:7000', 0), '10.0.0.1'), true);
  assert.equal(await check.isPreviousHop('m', hop('0xa', '10.0.0.1:7000', 0), '10.0.0.9'), false);
  assert.equal(await check.isPreviousHop('m', hop('0xz', '10.0.0.9:7000', 0), '10.0.0.9'), false);
});

test('without a registry, next hops on loopback only', async () => {
  const check = new LoopbackRouteCheck();
  await check.checkNextHop('m', hop('0xb', '127.0.0.1:7000'));
  await assert.rejects(check.checkNextHop('m', hop('0xb', '10.0.0.2:7000')), refused('NEXT_HOP_NOT_REGISTERED'));
});
