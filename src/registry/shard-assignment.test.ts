import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TesseraError } from '../core/errors.ts';
import type { Manifest, ShardEntry } from '../model/manifest.ts';
import { spanBytes, spanLayers, type ShardSpan } from '../model/shards/span.ts';
import { weakest, type Span } from './layer-assignment.ts';
import {
  chooseSpan,
  fittingSpans,
  rebalanceSpan,
  roleOfShard,
  ShardAssigner,
  TIER_THROUGHPUT,
  type Joiner,
  type ShardHolder,
} from './shard-assignment.ts';

const MiB = 2 ** 20;
const KV = 16 * MiB;

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

/** A node with room for `shards` shards of `shardBytes` beside the KV budget (one, unless said). */
const joiner = (nodeId: string, overrides: Partial<Joiner> = {}, shards = 1, shardBytes = MiB): Joiner => ({
  nodeId,
  freeBytes: shards * shardBytes + KV,
  kvBudgetBytes: KV,
  tier: 'T2',
  held: [],
  ...overrides,
});

const span = (start: number, end = start + 1): ShardSpan => ({ start, end });
const holder = (nodeId: string, held: ShardSpan | number, tier = 'T2'): ShardHolder => ({
  nodeId,
  span: typeof held === 'number' ? span(held) : held,
  tier,
});

test('one shard of room: an uncovered shard is taken first, then the weakest; ties go to the shard served least, then the lowest index', () => {
  const manifest = manifestOf([MiB, MiB, MiB]);
  assert.deepEqual(chooseSpan(manifest, [], joiner('a')), span(0));
  assert.deepEqual(chooseSpan(manifest, [holder('x', 0), holder('y', 0)], joiner('a')), span(1));
  assert.deepEqual(chooseSpan(manifest, [holder('x', 0), holder('y', 1)], joiner('a')), span(2));
  // all covered: the slowest shard (a T4 node alone on shard 1) gets the help
  const covered = [holder('x', 0), holder('y', 1, 'T4'), holder('z', 2)];
  assert.deepEqual(chooseSpan(manifest, covered, joiner('a')), span(1));
});

test('the longest span that fits memory, placed where it leaves the weakest shard strongest', () => {
  const manifest = manifestOf([MiB, MiB, MiB, MiB, MiB, MiB]);
  // room for 3 of 6: the first three, then the other three
  assert.deepEqual(chooseSpan(manifest, [], joiner('a', {}, 3)), span(0, 3));
  assert.deepEqual(chooseSpan(manifest, [holder('x', span(0, 3))], joiner('a', {}, 3)), span(3, 6));
  // room for the whole model: the whole model, whoever serves what
  assert.deepEqual(chooseSpan(manifest, [holder('x', span(0, 3))], joiner('a', {}, 9)), span(0, 6));
  // a node alone on shards 2–5 is slow (T4): a span of 4 over them, not over the fast shards 0–1
  const network = [holder('x', span(0, 2), 'T1'), holder('y', span(2, 6), 'T4'), holder('z', span(0, 3), 'T1')];
  assert.deepEqual(chooseSpan(manifest, network, joiner('a', {}, 4)), span(2, 6));
  // room for 2: among spans that raise the weakest shard equally, the one over the weakest shards
  const uneven = [holder('x', span(0, 6), 'T3'), holder('y', span(0, 2), 'T2'), holder('z', span(4, 6), 'T4')];
  assert.deepEqual(chooseSpan(manifest, uneven, joiner('a', {}, 2)), span(2, 4));
});

test('shards of unequal size: every span that fits and cannot grow is a candidate, so heavy first and last shards are covered too', () => {
  // A cut of one shard per layer: the first holds the embedding, the last the head.
  const manifest = manifestOf([5 * MiB, 3 * MiB, 3 * MiB, 3 * MiB, 5 * MiB]);
  const room = { freeBytes: 10 * MiB + KV, kvBudgetBytes: KV };
  assert.deepEqual(fittingSpans(manifest, room), [span(0, 2), span(1, 4), span(3, 5)]);
  // Each taking the longest run that fits (shards 1–3) would leave shards 0 and 4 to nobody.
  const assigner = new ShardAssigner();
  const taken = ['a', 'b', 'c'].map((id) => assigner.assign(manifest, [], { ...joiner(id), ...room }, 0).span);
  assert.deepEqual(taken, [span(1, 4), span(0, 2), span(3, 5)]);
  for (const s of taken) assert.ok(spanBytes(manifest, s) + KV <= room.freeBytes, `${JSON.stringify(s)} fits`);
});

test('not even one shard fits: NO_SHARD_FITS names the smallest need', () => {
  const manifest = manifestOf([600 * MiB, 100 * MiB, 100 * MiB]);
  // shard 0 is uncovered, but 600 MiB + 16 MiB do not fit 512 MiB: shards 1–2 do
  assert.deepEqual(chooseSpan(manifest, [], joiner('a', { freeBytes: 512 * MiB })), span(1, 3));
  assert.throws(
    () => chooseSpan(manifest, [], joiner('a', { freeBytes: 64 * MiB })),
    (error: unknown) =>
      error instanceof TesseraError &&
      error.code === 'NO_SHARD_FITS' &&
      /no shard of m fits 64 MiB free: the smallest needs 116 MiB/.test(error.message),
  );
});

test('a restarted node keeps the span it holds when that serves the network as well, and ignores its own old registration', () => {
  const manifest = manifestOf([MiB, MiB, MiB]);
  const network = [holder('a', 0), holder('b', 0), holder('c', 1), holder('d', 1), holder('e', 2), holder('me', 2)];
  assert.deepEqual(chooseSpan(manifest, network, joiner('me', { held: [2] })), span(2));
  // all equal without it: the shard it holds, else the lowest
  const even = [holder('a', 0), holder('b', 1), holder('c', 2), holder('me', 1)];
  assert.deepEqual(chooseSpan(manifest, even, joiner('me', { held: [1] })), span(1));
  assert.deepEqual(chooseSpan(manifest, even, joiner('me')), span(0));
  // a held shard loses to one whose taking leaves the weakest shard stronger
  const thin = [holder('a', 0), holder('b', 0), holder('c', 2), holder('me', 2)];
  assert.deepEqual(chooseSpan(manifest, thin, joiner('me', { held: [2] })), span(1));
});

test('an unmeasured node counts as the median of the measured ones, not as a guess of its own', () => {
  const manifest = manifestOf([MiB, MiB]);
  // shard 0: one T1 node; shard 1: one T1 and an unmeasured one. The joiner (unmeasured) goes to 0.
  const holders = [holder('a', 0, 'T1'), holder('b', 1, 'T1'), holder('c', 1, 'unmeasured')];
  assert.deepEqual(chooseSpan(manifest, holders, joiner('j', { tier: 'unmeasured' })), span(0));
  assert.ok(TIER_THROUGHPUT.T1! > TIER_THROUGHPUT.T5!);
});

test('nodes joining together spread over the shards; a registration supersedes its hold; holds lapse', () => {
  const manifest = manifestOf([MiB, MiB, MiB, MiB]);
  const assigner = new ShardAssigner(1_000);
  const spans = ['a', 'b', 'c', 'd'].map((id) => assigner.assign(manifest, [], joiner(id, {}, 2), 0).span);
  assert.deepEqual(spans, [span(0, 2), span(2, 4), span(0, 2), span(2, 4)]);
  // 'a' registered on shards 0–1: its hold goes, the registration counts once
  const next = assigner.assign(manifest, [holder('a', span(0, 2))], joiner('g', {}, 2), 10);
  assert.equal(assigner.holds('m').has('a'), false);
  assert.deepEqual(next.span, span(0, 2));
  // after the hold time nobody's hold is left but the one just made
  assigner.assign(manifest, [], joiner('h'), 5_000);
  assert.deepEqual([...assigner.holds('m').keys()], ['h']);
});

test('roles follow the span: the embedding drives, the head validates, the rest work; a whole model drives', () => {
  const manifest = manifestOf([MiB, MiB, MiB, MiB]);
  const role = (s: ShardSpan) => roleOfShard(spanLayers(manifest, s));
  assert.deepEqual([span(0, 2), span(1, 3), span(2, 4), span(0, 4)].map(role), [
    'driver',
    'worker',
    'validator',
    'driver',
  ]);
  assert.deepEqual(manifest.shards.map(roleOfShard), ['driver', 'worker', 'worker', 'validator']);
});

test('rebalancing: a node moves to cover a shard nobody serves, never uncovers one, and otherwise only past the hysteresis', () => {
  const two = manifestOf([MiB, MiB]);
  const me = (nodeId: string, serving: number | ShardSpan, shards = 1) => {
    const s = typeof serving === 'number' ? span(serving) : serving;
    return { ...joiner(nodeId, { held: [] }, shards), serving: s };
  };
  // shard 1 lost its only node: one of shard 0's two moves, and the other, seeing its hold, stays
  const assigner = new ShardAssigner();
  const registered = [holder('a', 0), holder('c', 0)];
  assert.deepEqual(assigner.assign(two, registered, me('a', 0), 0).span, span(1));
  assert.deepEqual(assigner.assign(two, registered, me('c', 0), 1).span, span(0));
  // the only node of a shard never leaves it, even for a shard nobody serves
  assert.equal(rebalanceSpan(two, [holder('a', 0)], me('a', 0)), undefined);
  // holds are promises, not nodes: a shard kept only by holds (even many) is not left
  const promised = [holder('a', 0), holder('x', 0), holder('y', 0)];
  assert.equal(rebalanceSpan(two, promised, me('a', 0), [holder('a', 0)]), undefined);
  assert.deepEqual(rebalanceSpan(two, promised, me('a', 0)), span(1));

  const three = manifestOf([MiB, MiB, MiB]);
  // weakest 1 → 2 after the move: at least 1 / 0.75, so it moves
  const crowded = [holder('a', 0), holder('b', 0), holder('c', 0), holder('d', 1), holder('e', 2), holder('f', 2)];
  assert.deepEqual(rebalanceSpan(three, crowded, me('a', 0)), span(1));
  // weakest 1 → 1: no gain, it stays
  const even = [holder('a', 0), holder('b', 0), holder('c', 1), holder('d', 2), holder('e', 2)];
  assert.equal(rebalanceSpan(three, even, me('a', 0)), undefined);

  // Spans: shards 4–5 lost their node; a node on 0–1 beside another on 0–3 slides over to 2–5.
  const six = manifestOf([MiB, MiB, MiB, MiB, MiB, MiB]);
  const partial = [holder('a', span(0, 4)), holder('b', span(0, 2)), holder('c', span(2, 4))];
  assert.deepEqual(rebalanceSpan(six, partial, me('b', span(0, 2), 2)), span(4, 6));
  // … but not when the shards it leaves are kept by holds alone
  assert.equal(rebalanceSpan(six, partial, me('b', span(0, 2), 2), [holder('b', span(0, 2))]), undefined);
  // a node whose memory now fits more takes the longer span, if that raises the weakest shard
  const grown = [holder('a', span(0, 6), 'T5'), holder('b', span(0, 2)), holder('c', span(0, 2))];
  assert.deepEqual(rebalanceSpan(six, grown, me('b', span(0, 2), 6)), span(0, 6));
});

test('holds are bounded: one per node id (a new request replaces it) and maxHolds in all, past which a joiner is refused ASSIGNMENT_HOLDS_FULL', () => {
  const manifest = manifestOf([MiB, MiB, MiB]);
  const assigner = new ShardAssigner(1_000, 3);
  // One key asking again and again holds one span, the last it was given.
  for (let i = 0; i < 50; i++) assigner.assign(manifest, [], joiner('x'), i);
  assert.deepEqual([...assigner.holds('m')], [['x', span(0)]]);
  // so the next joiner is sent where one hold would send it
  assert.deepEqual(assigner.assign(manifest, [], joiner('h'), 60).span, span(1));
  assert.deepEqual(assigner.assign(manifest, [], joiner('y'), 70).span, span(2));
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
  assert.deepEqual(assigner.assign(manifest, [], joiner('x'), 90).span, span(0));
  // A registered node asking whether to move, with no room to hold the move: it stays, unrefused.
  const registered = [holder('a', 0), holder('b', 0)];
  assert.deepEqual(assigner.assign(manifest, registered, joiner('a', { serving: span(0), held: [0] }), 95), {
    span: span(0),
    untilMs: 0,
  });
  // 'h' registered (on a span other than the one it was sent to): its hold goes, and room with it.
  assert.deepEqual(assigner.assign(manifest, [holder('h', 2)], joiner('z'), 100).span, span(1));
  assert.deepEqual([...assigner.holds('m').keys()].sort(), ['x', 'y', 'z']);
  // Lapsed holds make room too.
  assert.deepEqual(assigner.assign(manifest, [], joiner('w'), 2_000).span, span(0));
  assert.deepEqual([...assigner.holds('m').keys()], ['w']);
});

test("a mover's hold counts while it still serves the span it leaves, and goes once it registers elsewhere", () => {
  const two = manifestOf([MiB, MiB]);
  const assigner = new ShardAssigner();
  const registered = [holder('a', 0), holder('c', 0)];
  assert.deepEqual(assigner.assign(two, registered, joiner('a', { serving: span(0), held: [0] }), 0).span, span(1));
  // still registered on shard 0 while it fetches shard 1: the hold stays, so 'c' is not sent too
  assert.deepEqual(assigner.assign(two, registered, joiner('c', { serving: span(0), held: [0] }), 1).span, span(0));
  assert.deepEqual([...assigner.holds('m')], [['a', span(1)]]);
  assigner.assign(two, [holder('a', 1), holder('c', 0)], joiner('c', { serving: span(0), held: [0] }), 2);
  assert.deepEqual([...assigner.holds('m')], []);
});

// --- properties, over random small networks (a fixed seed: a failing case can be replayed) ---

/** A deterministic pseudo-random sequence. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

const TIERS = ['T1', 'T2', 'T3', 'T4', 'T5'];
const UNIT = 10 * MiB;

interface Case {
  readonly manifest: Manifest;
  readonly nodes: readonly Joiner[];
}

/** 1 to 6 shards (of one size, or of one to two units), 1 to 4 nodes of random tiers and memory. */
function randomCase(next: () => number, uniform: boolean): Case {
  const shards = 1 + Math.floor(next() * 6);
  const sizes = Array.from({ length: shards }, () => (uniform ? UNIT : UNIT + Math.floor(next() * 3) * (UNIT / 2)));
  const nodes = Array.from({ length: 1 + Math.floor(next() * 4) }, (_, i) => ({
    nodeId: `n${i}`,
    tier: TIERS[Math.floor(next() * TIERS.length)]!,
    kvBudgetBytes: KV,
    freeBytes: KV + UNIT / 2 + Math.floor(next() * shards * 1.5 * UNIT),
    held: [],
  }));
  return { manifest: manifestOf(sizes), nodes };
}

const asSpan = (nodes: readonly Joiner[], holders: readonly ShardHolder[]): Span[] =>
  holders.map((h) => ({
    nodeId: h.nodeId,
    ...h.span,
    throughput: TIER_THROUGHPUT[nodes.find((n) => n.nodeId === h.nodeId)!.tier]!,
  }));

/** Every node asking the registry in turn, as a joining node does; those no shard fits stay out. */
function joinOneByOne({ manifest, nodes }: Case): ShardHolder[] {
  const assigner = new ShardAssigner();
  const holders: ShardHolder[] = [];
  for (const node of nodes) {
    try {
      holders.push({ nodeId: node.nodeId, span: assigner.assign(manifest, [], node, 0).span, tier: node.tier });
    } catch (error) {
      assert.equal((error as TesseraError).code, 'NO_SHARD_FITS');
    }
  }
  return holders;
}

/** Every registered node asking whether to move, round after round, until none moves (as their timers do). */
function rebalanceUntilSettled({ manifest, nodes }: Case, holders: ShardHolder[]): void {
  for (let round = 0, moved = true; moved; round++) {
    assert.ok(round < 100, 'rebalancing settles');
    moved = false;
    for (const [i, me] of holders.entries()) {
      const node = nodes.find((n) => n.nodeId === me.nodeId)!;
      const target = new ShardAssigner().assign(manifest, holders, { ...node, serving: me.span }, 0).span;
      if (target.start !== me.span.start || target.end !== me.span.end) {
        holders[i] = { ...me, span: target };
        moved = true;
      }
    }
  }
}

test('property: with enough memory in all, nodes joining one by one leave no shard uncovered', () => {
  const next = random(7);
  let checked = 0;
  for (let trial = 0; trial < 1500; trial++) {
    const uniform = trial % 2 === 0;
    const c = randomCase(next, uniform);
    const shards = c.manifest.shards.length;
    const largest = Math.max(...c.manifest.shards.map((e) => e.bytes));
    // Enough: the nodes' room, counted in whole largest shards, covers the model.
    const room = c.nodes.reduce((sum, n) => sum + Math.floor((n.freeBytes - n.kvBudgetBytes) / largest), 0);
    if (room < shards) continue;
    const holders = joinOneByOne(c);
    const context = () => `${JSON.stringify(c.manifest.shards.map((e) => e.bytes / UNIT))} ${JSON.stringify(holders)}`;
    // Of one size, the joins alone cover every shard; of unequal sizes a node's choice can only be
    // as good as the nodes it sees, and the moves that follow (rebalancing) finish the cover.
    if (!uniform) rebalanceUntilSettled(c, holders);
    assert.ok(weakest(shards, asSpan(c.nodes, holders)) > 0, `a shard uncovered: ${context()}`);
    checked++;
  }
  assert.ok(checked > 300, `${checked} cases had enough memory`);
});

test('property: each assignment leaves the weakest shard within 10 % of the best any span of its memory could, found by brute force', () => {
  const next = random(11);
  for (let trial = 0; trial < 1500; trial++) {
    const c = randomCase(next, trial % 2 === 0);
    const shards = c.manifest.shards.length;
    // The nodes before the last stand where the registry put them; the last joins.
    const holders = joinOneByOne({ ...c, nodes: c.nodes.slice(0, -1) });
    const me = c.nodes.at(-1)!;
    let chosen: ShardSpan;
    try {
      chosen = chooseSpan(c.manifest, holders, me);
    } catch {
      continue;
    }
    const others = asSpan(c.nodes, holders);
    const mine = (s: ShardSpan): Span => ({ nodeId: me.nodeId, ...s, throughput: TIER_THROUGHPUT[me.tier]! });
    let best = 0;
    for (let start = 0; start < shards; start++)
      for (let end = start + 1; end <= shards; end++)
        if (spanBytes(c.manifest, span(start, end)) + me.kvBudgetBytes <= me.freeBytes)
          best = Math.max(best, weakest(shards, [...others, mine(span(start, end))]));
    const got = weakest(shards, [...others, mine(chosen)]);
    const context = `${JSON.stringify(c.manifest.shards.map((e) => e.bytes / UNIT))} ${JSON.stringify(holders)} + ${JSON.stringify(me)} → ${JSON.stringify(chosen)}`;
    assert.ok(got >= 0.9 * best, `weakest ${got} < 0.9 × best ${best}: ${context}`);
    // Memory is never exceeded.
    assert.ok(spanBytes(c.manifest, chosen) + me.kvBudgetBytes <= me.freeBytes, context);
  }
});

test('property: no assignment, join or move, ever exceeds the memory its node said it has', () => {
  const next = random(13);
  for (let trial = 0; trial < 1000; trial++) {
    const c = randomCase(next, trial % 2 === 0);
    const holders = joinOneByOne(c);
    rebalanceUntilSettled(c, holders);
    for (const h of holders) {
      const node = c.nodes.find((n) => n.nodeId === h.nodeId)!;
      assert.ok(
        spanBytes(c.manifest, h.span) + node.kvBudgetBytes <= node.freeBytes,
        `${h.nodeId} holds ${JSON.stringify(h.span)} in ${node.freeBytes} bytes`,
      );
    }
  }
});
