import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shardSources } from './shard-sources.ts';

const node = (nodeId: string, shardIndex: number, tls = false) => ({
  nodeId,
  endpoint: `${nodeId}.example:1`,
  shardIndex,
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
