import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shardSources, spanSources } from './shard-sources.ts';

const node = (nodeId: string, shardIndex: number, tls = false, shardEnd = shardIndex + 1) => ({
  nodeId,
  endpoint: `${nodeId}.example:1`,
  shardIndex,
  shardEnd,
  tls,
});

test('the sources of a shard: the nodes serving it (not this one), shuffled, then the registry; TLS peers marked', () => {
  const nodes = [node('a', 1), node('b', 0), node('c', 1, true), node('self', 1), node('d', 1)];
  const draws = [0.9, 0.1, 0.5];
  const { sources, tls } = shardSources(nodes, 1, 'self', 'registry:1', () => draws.shift()!);
  assert.deepEqual(sources, ['c.example:1', 'd.example:1', 'a.example:1', 'registry:1']);
  assert.deepEqual([...tls], ['c.example:1']);
  // nobody serves shard 2: the registry alone
  assert.deepEqual(shardSources(nodes, 2, 'self', 'registry:1').sources, ['registry:1']);
});

test("a shard's file comes from every node whose held span contains the shard", () => {
  const nodes = [
    node('a', 0, false, 3),
    node('b', 1),
    node('c', 2, true, 4),
    node('d', 3, false, 5),
    node('self', 0, false, 5),
  ];
  const sources = spanSources(nodes, 'self', 'registry:1');
  const peers = (shard: number) => sources(shard).sources.slice(0, -1).sort();
  assert.deepEqual(peers(0), ['a.example:1']);
  assert.deepEqual(peers(1), ['a.example:1', 'b.example:1']);
  assert.deepEqual(peers(2), ['a.example:1', 'c.example:1']);
  assert.deepEqual(peers(3), ['c.example:1', 'd.example:1']);
  assert.deepEqual(peers(4), ['d.example:1']);
  assert.deepEqual(sources(5).sources, ['registry:1'], 'past every span: the registry alone');
  assert.deepEqual([...sources(3).tls], ['c.example:1']);
  assert.equal(sources(2).sources.at(-1), 'registry:1');
});
