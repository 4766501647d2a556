import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterStatus } from '../client/client.ts';
import { servingCapacity } from './cluster-capacity.ts';

const node = (maxSessions: number) =>
  ({ maxSessions }) as ClusterStatus['models'][number]['shardsCoverage'][number]['nodes'][number];
const model = (...shards: number[][]) =>
  ({
    shardsCoverage: shards.map((sessions, shardIndex) => ({ shardIndex, nodes: sessions.map(node) })),
  }) as unknown as ClusterStatus['models'][number];

test("capacity is each model's narrowest shard, counting what one client may hold per node, summed", () => {
  // a client key may hold a quarter of a node's sessions
  assert.equal(servingCapacity({ registries: [], models: [model([64], [64])] }), 16);
  assert.equal(servingCapacity({ registries: [], models: [model([64, 64], [64])] }), 16);
  assert.equal(servingCapacity({ registries: [], models: [model([64, 64], [64, 32])] }), 24);
  assert.equal(servingCapacity({ registries: [], models: [model([64], [64]), model([8])] }), 18);
  // a node holding both shards is listed at each: with one more at shard 1, shard 0 is the narrowest
  assert.equal(servingCapacity({ registries: [], models: [model([64], [64, 64])] }), 16);
  // a shard nobody serves: that model adds nothing
  assert.equal(servingCapacity({ registries: [], models: [model([64], []), model([2])] }), 1);
  assert.equal(servingCapacity({ registries: [], models: [] }), 0);
});
