import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TesseraError } from '../core/errors.ts';
import type { Manifest, ShardEntry } from '../model/manifest.ts';
import { weakest } from './layer-assignment.ts';
import {
  chooseShard,
  rebalanceShard,
  roleOfShard,
  ShardAssigner,
  TIER_THROUGHPUT,
  type ShardHolder,
} from './shard-assignment.ts';

const MiB = 2 ** 20;

function manifestOf(shardBytes: readonly number[]): Manifest {
  const shards: ShardEntry[] = shardBytes.map((bytes, index) => ({
    index,
    layerStart: index,
    layerEnd: index + 1,
    embedding: index === 0,
    head: index === shardBytes.length - 1,
    file: `shard-${index}.gguf`,
    bytes,
    sha256: '0'.repeat(64),
  }));
  return { modelId: 'm', shards } as unknown as Manifest;
}

const joiner = (nodeId: string, overrides: Partial<Parameters<typeof chooseShard>[2]> = {}) => ({
  nodeId,
  freeBytes: 1024 * MiB,
  kvBudgetBytes: 16 * MiB,
  tier: 'T2',
  held: [] as number[],
  ...overrides,
});

const holder = (nodeId: string, shardIndex: number, tier = 'T2'): ShardHolder => ({ nodeId, shardIndex, tier });

test('an uncovered shard is taken first, then the weakest; ties go to the shard served least, then the lowest index', () => {
  const manifest = manifestOf([100 * MiB, 100 * MiB, 100 * MiB]);
  assert.equal(chooseShard(manifest, [], joiner('a')).index, 0);
  assert.equal(chooseShard(manifest, [holder('x', 0), holder('y', 0)], joiner('a')).index, 1);
  assert.equal(chooseShard(manifest, [holder('x', 0), holder('y', 1)], joiner('a')).index, 2);
  // all covered: the slowest shard (a T4 node alone on shard 1) gets the help
  assert.equal(chooseShard(manifest, [holder('x', 0), holder('y', 1, 'T4'), holder('z', 2)], joiner('a')).index, 1);
});

test('only shards that fit free memory (weights and KV budget) are chosen; none fitting is NO_SHARD_FITS', () => {
  const manifest = manifestOf([600 * MiB, 100 * MiB, 100 * MiB]);
  // shard 0 is uncovered, but 600 MiB + 16 MiB do not fit 512 MiB
  assert.equal(chooseShard(manifest, [], joiner('a', { freeBytes: 512 * MiB })).index, 1);
  assert.throws(
    () => chooseShard(manifest, [], joiner('a', { freeBytes: 64 * MiB })),
    (error: unknown) =>
      error instanceof TesseraError &&
      error.code === 'NO_SHARD_FITS' &&
      /no shard of m fits 64 MiB free: the smallest needs 116 MiB/.test(error.message),
  );
});

test('a restarted node keeps the shard it holds when that serves the network as well, and ignores its own old registration', () => {
  const manifest = manifestOf([MiB, MiB, MiB]);
  const network = [holder('a', 0), holder('b', 0), holder('c', 1), holder('d', 1), holder('e', 2), holder('me', 2)];
  assert.equal(chooseShard(manifest, network, joiner('me', { held: [2] })).index, 2);
  // a held shard loses to one whose taking leaves the weakest shard stronger
  const thin = [holder('a', 0), holder('b', 0), holder('c', 2), holder('me', 2)];
  assert.equal(chooseShard(manifest, thin, joiner('me', { held: [2] })).index, 1);
});

test('an unmeasured node counts as the median of the measured ones, not as a guess of its own', () => {
  const manifest = manifestOf([MiB, MiB]);
  // shard 0: one T1 node; shard 1: one T1 and an unmeasured one. The joiner (unmeasured) goes to 0.
  const holders = [holder('a', 0, 'T1'), holder('b', 1, 'T1'), holder('c', 1, 'unmeasured')];
  assert.equal(chooseShard(manifest, holders, joiner('j', { tier: 'unmeasured' })).index, 0);
  assert.ok(TIER_THROUGHPUT.T1! > TIER_THROUGHPUT.T5!);
});

test('nodes joining together spread over the shards; a registration supersedes its hold; holds lapse', () => {
  const manifest = manifestOf([MiB, MiB, MiB]);
  const assigner = new ShardAssigner(1_000);
  const shards = ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => assigner.assign(manifest, [], joiner(id), 0).entry.index);
  assert.deepEqual(shards, [0, 1, 2, 0, 1, 2]);
  const spans = shards.map((s, i) => ({ nodeId: String(i), start: s, end: s + 1, throughput: 1 }));
  assert.equal(weakest(3, spans), 2);
  // 'a' registered on shard 0: its hold goes, the registration counts once
  const next = assigner.assign(manifest, [holder('a', 0)], joiner('g'), 10);
  assert.equal(assigner.holds('m').has('a'), false);
  assert.equal(next.entry.index, 0);
  // after the hold time nobody's hold is left but the one just made
  assigner.assign(manifest, [], joiner('h'), 5_000);
  assert.deepEqual([...assigner.holds('m').keys()], ['h']);
});

test('roles follow the shard: the embedding drives, the head validates, the rest work', () => {
  const manifest = manifestOf([MiB, MiB, MiB]);
  assert.deepEqual(manifest.shards.map(roleOfShard), ['driver', 'worker', 'validator']);
  assert.equal(roleOfShard(manifestOf([MiB]).shards[0]!), 'driver');
});

test('rebalancing: a node moves to cover a shard nobody serves, never uncovers its own, and otherwise only past the hysteresis', () => {
  const two = manifestOf([MiB, MiB]);
  const me = (nodeId: string, serving: number) => joiner(nodeId, { serving, held: [serving] });
  // shard 1 lost its only node: one of shard 0's two moves, and the other, seeing its hold, stays
  const assigner = new ShardAssigner();
  const registered = [holder('a', 0), holder('c', 0)];
  assert.equal(assigner.assign(two, registered, me('a', 0), 0).entry.index, 1);
  assert.equal(assigner.assign(two, registered, me('c', 0), 1).entry.index, 0);
  // the only node of a shard never leaves it, even for a shard nobody serves
  assert.equal(rebalanceShard(two, [holder('a', 0)], { ...me('a', 0), serving: 0 }), undefined);
  // holds are promises, not nodes: a shard kept only by holds (even many) is not left
  const promised = [holder('a', 0), holder('x', 0), holder('y', 0)];
  assert.equal(rebalanceShard(two, promised, { ...me('a', 0), serving: 0 }, [holder('a', 0)]), undefined);
  assert.equal(rebalanceShard(two, promised, { ...me('a', 0), serving: 0 })?.index, 1);

  const three = manifestOf([MiB, MiB, MiB]);
  // weakest 1 → 2 after the move: at least 1 / 0.75, so it moves
  const crowded = [holder('a', 0), holder('b', 0), holder('c', 0), holder('d', 1), holder('e', 2), holder('f', 2)];
  assert.equal(rebalanceShard(three, crowded, { ...me('a', 0), serving: 0 })?.index, 1);
  // weakest 1 → 1: no gain, it stays
  const even = [holder('a', 0), holder('b', 0), holder('c', 1), holder('d', 2), holder('e', 2)];
  assert.equal(rebalanceShard(three, even, { ...me('a', 0), serving: 0 }), undefined);
});
