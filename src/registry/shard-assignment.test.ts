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

test('holds are bounded: one per node id (a new request replaces it) and maxHolds in all, past which a joiner is refused ASSIGNMENT_HOLDS_FULL', () => {
  const manifest = manifestOf([MiB, MiB, MiB]);
  const assigner = new ShardAssigner(1_000, 3);
  // One key asking again and again holds one shard, the last it was given.
  for (let i = 0; i < 50; i++) assigner.assign(manifest, [], joiner('x'), i);
  assert.deepEqual([...assigner.holds('m')], [['x', 0]]);
  // so the next joiner is sent where one hold would send it
  assert.equal(assigner.assign(manifest, [], joiner('h'), 60).entry.index, 1);
  assert.equal(assigner.assign(manifest, [], joiner('y'), 70).entry.index, 2);
  assert.equal(assigner.size, 3);
  const refused = (() => {
    try {
      assigner.assign(manifest, [], joiner('z'), 80);
    } catch (error) {
      return error;
    }
    return assert.fail('a fourth hold was taken');
  })();
  assert.ok(refused instanceof TesseraError);
  assert.equal(refused.code, 'ASSIGNMENT_HOLDS_FULL');
  assert.equal(refused.kind, 'resource_exhausted');
  assert.deepEqual([...assigner.holds('m').keys()], ['x', 'h', 'y']);
  // A node that holds already asks again: its own hold is replaced, no room is needed.
  assert.equal(assigner.assign(manifest, [], joiner('x'), 90).entry.index, 0);
  // A registered node asking whether to move, with no room to hold the move: it stays, unrefused.
  const registered = [holder('a', 0), holder('b', 0)];
  assert.deepEqual(assigner.assign(manifest, registered, joiner('a', { serving: 0, held: [0] }), 95), {
    entry: manifest.shards[0],
    untilMs: 0,
  });
  // 'h' registered (on a shard other than the one it was sent to): its hold goes, and room with it.
  assert.equal(assigner.assign(manifest, [holder('h', 2)], joiner('z'), 100).entry.index, 1);
  assert.deepEqual([...assigner.holds('m').keys()].sort(), ['x', 'y', 'z']);
  // Lapsed holds make room too.
  assert.equal(assigner.assign(manifest, [], joiner('w'), 2_000).entry.index, 0);
  assert.deepEqual([...assigner.holds('m').keys()], ['w']);
});

test("a mover's hold counts while it still serves the shard it leaves, and goes once it registers elsewhere", () => {
  const two = manifestOf([MiB, MiB]);
  const assigner = new ShardAssigner();
  const registered = [holder('a', 0), holder('c', 0)];
  assert.equal(assigner.assign(two, registered, joiner('a', { serving: 0, held: [0] }), 0).entry.index, 1);
  // still registered on shard 0 while it fetches shard 1: the hold stays, so 'c' is not sent too
  assert.equal(assigner.assign(two, registered, joiner('c', { serving: 0, held: [0] }), 1).entry.index, 0);
  assert.deepEqual([...assigner.holds('m')], [['a', 1]]);
  assigner.assign(two, [holder('a', 1), holder('c', 0)], joiner('c', { serving: 0, held: [0] }), 2);
  assert.deepEqual([...assigner.holds('m')], []);
});
