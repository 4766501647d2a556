import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chooseRoute,
  hopCost,
  NoRouteError,
  PROBATION_SHARE,
  PROBATION_STEPS,
  probationShare,
  type Candidate,
  type RouteHop,
} from './routing.ts';
import { seededRandom } from '../../test/support/fuzz.ts';
import { ServiceRecord } from './service-record.ts';

/** A node holding shards [shardIndex, shardEnd) (one shard unless `extra` says otherwise), established. */
const node = (nodeId: string, shardIndex: number, extra: Partial<Candidate> = {}): Candidate => ({
  nodeId,
  endpoint: `127.0.0.1:${1000 + shardIndex}`,
  shardIndex,
  shardEnd: shardIndex + 1,
  activeSessions: 0,
  maxSessions: 8,
  computeUsPerToken: 100,
  pricePer1kTokens: 10,
  tls: false,
  rttUs: 200,
  goodSteps: PROBATION_STEPS,
  ...extra,
});

/** A node holding shards [start, end). */
const holder = (nodeId: string, start: number, end: number, extra: Partial<Candidate> = {}): Candidate =>
  node(nodeId, start, { shardEnd: end, ...extra });

const spans = (route: readonly RouteHop[]) => route.map((h) => `${h.nodeId}[${h.shardIndex},${h.shardEnd})`);

test('each shard gets the node with the least round trip plus measured time per token', () => {
  const route = chooseRoute('m', 2, [
    node('a0', 0, { rttUs: 900, measuredUsPerToken: 100 }),
    node('b0', 0, { rttUs: 300, measuredUsPerToken: 500 }),
    node('c0', 0, { rttUs: 400, measuredUsPerToken: 50 }),
    node('a1', 1, { rttUs: 100 }),
  ]);
  assert.deepEqual(spans(route), ['c0[0,1)', 'a1[1,2)']);
});

test('one node holding the whole model makes a route of one hop', () => {
  const route = chooseRoute('m', 5, [holder('all', 0, 5)]);
  assert.deepEqual(spans(route), ['all[0,5)']);
  assert.deepEqual(route[0], { nodeId: 'all', endpoint: '127.0.0.1:1000', shardIndex: 0, shardEnd: 5, tls: false });
});

test('overlapping spans are stitched: a node runs only the part of its span the route needs', () => {
  // a holds shards 0–2, b 2–4, c 1–4 (slow); b is slower than a, so a runs all it holds and b only
  // what is left: shard 2, which both hold, is run once
  const route = chooseRoute('m', 5, [
    holder('a', 0, 3, { measuredUsPerToken: 300 }),
    holder('b', 2, 5, { measuredUsPerToken: 600 }),
    holder('c', 1, 5, { measuredUsPerToken: 4000 }),
  ]);
  assert.deepEqual(spans(route), ['a[0,3)', 'b[3,5)']);
  // the route tiles the model
  assert.equal(route[0]!.shardIndex, 0);
  assert.equal(route.at(-1)!.shardEnd, 5);
  for (let i = 1; i < route.length; i++) assert.equal(route[i]!.shardIndex, route[i - 1]!.shardEnd);
  // a node slow on its first shards and a fast one holding only those: the fast one takes them, the
  // slow one runs the sub-span that is left
  const stitched = chooseRoute('m', 4, [
    holder('slow', 0, 4, { measuredUsPerToken: 40_000 }),
    holder('fast', 0, 2, { measuredUsPerToken: 100 }),
  ]);
  assert.deepEqual(spans(stitched), ['fast[0,2)', 'slow[2,4)']);
});

test('a cheaper two-hop route beats a slow one-hop route; at equal cost the single hop wins', () => {
  const slow = holder('slow', 0, 4, { rttUs: 200, measuredUsPerToken: 20_000 });
  const first = holder('first', 0, 2, { rttUs: 200, measuredUsPerToken: 1000 });
  const second = holder('second', 2, 4, { rttUs: 200, measuredUsPerToken: 1000 });
  assert.deepEqual(spans(chooseRoute('m', 4, [slow, first, second])), ['first[0,2)', 'second[2,4)']);
  // one hop: 100 + 2 × 50 = 200 µs; two hops: 2 × (50 + 50) = 200 µs. Each hop costs a round trip.
  const tie = { pricePer1kTokens: 0 };
  const whole = holder('z-whole', 0, 2, { rttUs: 100, measuredUsPerToken: 100, ...tie });
  const a = holder('a', 0, 1, { rttUs: 50, measuredUsPerToken: 50, ...tie });
  const b = holder('b', 1, 2, { rttUs: 50, measuredUsPerToken: 50, ...tie });
  assert.deepEqual(spans(chooseRoute('m', 2, [a, b, whole])), ['z-whole[0,2)']);
});

test('a node appears at most once, even where running it twice around a faster node would be cheaper', () => {
  // unlimited, x[0,1) fast[1,2) x[2,3) would cost least; x may serve one hop only
  const x = holder('x', 0, 3, { rttUs: 1, measuredUsPerToken: 3000 });
  const fast = holder('fast', 1, 2, { rttUs: 1, measuredUsPerToken: 1 });
  const route = chooseRoute('m', 3, [x, fast]);
  assert.deepEqual(spans(route), ['x[0,3)']);
  const withTail = chooseRoute('m', 3, [x, fast, holder('tail', 2, 3, { rttUs: 1, measuredUsPerToken: 1 })]);
  assert.deepEqual(spans(withTail), ['x[0,1)', 'fast[1,2)', 'tail[2,3)']);
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
  // equal in everything: the lower id, whatever the order listed
  assert.equal(chooseRoute('m', 1, [node('n2', 0), node('n1', 0)])[0]!.nodeId, 'n1');
});

test('banned, unreachable and full nodes are left out; the shards no usable node holds are named', () => {
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
      assert.match(
        error.message,
        /shard 1's 1 node\(s\) are unreachable, full, banned or run another engine version or Forward protocol; shard 2 has no live node/,
      );
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

test('a gap between spans names exactly the shards nobody holds, a run of them as one', () => {
  const candidates = [holder('a', 0, 3), holder('b', 5, 8), holder('c', 3, 4, { rttUs: undefined })];
  assert.throws(
    () => chooseRoute('m', 8, candidates),
    (error: unknown) => {
      assert.ok(error instanceof NoRouteError);
      assert.deepEqual(error.missingShards, [3, 4]);
      assert.match(
        error.message,
        /: shard 3's 1 node\(s\) are unreachable, full, banned or run another engine version or Forward protocol; shard 4 has no live node$/,
      );
      assert.equal(error.transient, false);
      return true;
    },
  );
  assert.throws(
    () => chooseRoute('m', 9, [holder('a', 0, 2), holder('b', 5, 7)]),
    (error: unknown) =>
      error instanceof NoRouteError &&
      error.missingShards.join() === '2,3,4,7,8' &&
      /: shards 2–4 have no live node; shards 7–8 have no live node$/.test(error.message),
  );
  // a span the model does not have (a registry should list none) holds nothing
  assert.throws(
    () => chooseRoute('m', 2, [holder('a', 0, 1), holder('past', 1, 3)]),
    (error: unknown) => error instanceof NoRouteError && error.missingShards.join() === '1',
  );
});

test('what a node claims of its speed is never used: a measured node beats one that claims to take no time', () => {
  const liar = node('liar', 0, { computeUsPerToken: 0, rttUs: 200 });
  const measured = node('measured', 0, { computeUsPerToken: 1_000_000, measuredUsPerToken: 300, rttUs: 200 });
  // unmeasured, the liar counts as the slowest measured node per shard: a tie that goes to the measured node
  assert.equal(chooseRoute('m', 1, [liar, measured])[0]!.nodeId, 'measured');
  const slower = node('slower', 0, { measuredUsPerToken: 900, rttUs: 200 });
  assert.equal(chooseRoute('m', 1, [liar, measured, slower])[0]!.nodeId, 'measured');
  // a measure is of the whole held span: 300 µs over 3 shards is 100 µs a shard, so a liar holding
  // all three counts 100 µs a shard, not 300
  const wide = holder('wide', 0, 3, { measuredUsPerToken: 300 });
  assert.equal(hopCost(holder('liar', 0, 3), { start: 0, end: 1 }, 100), hopCost(wide, { start: 0, end: 1 }));
});

test('a new node is admitted to a choice with a probation share that grows with its verified steps; alone it gets them all', () => {
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
  // the only holder of a shard the route needs is admitted whatever its draw
  const spanning = chooseRoute(
    'm',
    3,
    [holder('old', 0, 2, { measuredUsPerToken: 5_000 }), holder('new', 1, 3, { goodSteps: 0 })],
    new Set(),
    () => 0.99,
  );
  assert.equal(spanning.length, 2);
  assert.deepEqual([spanning[1]!.nodeId, spanning[1]!.shardEnd], ['new', 3]);
});

test('one draw per probationary node per choice, in node id order', () => {
  const draws: number[] = [];
  const candidates = [
    holder('p2', 0, 4, { goodSteps: 10 }),
    holder('e', 0, 4, { measuredUsPerToken: 100 }),
    holder('p1', 0, 2, { goodSteps: 0 }),
    holder('p3', 2, 4, { goodSteps: 0, rttUs: undefined }),
  ];
  const record = (value: number) => () => (draws.push(value), value);
  chooseRoute('m', 4, candidates, new Set(), record(0.9));
  assert.equal(draws.length, 2, 'p1 and p2; p3 is unreachable and e established');
  // p1 admitted (first draw) and p2 not (second): the route may use p1 only
  const sequence = [0.01, 0.99];
  const route = chooseRoute('m', 4, [...candidates, holder('e2', 2, 4)], new Set(), () => sequence.shift()!);
  assert.equal(sequence.length, 0);
  assert.ok(!route.some((h) => h.nodeId === 'p2'), spans(route).join());
});

test('a probationary node gets about its share of choices, spans or not', () => {
  const random = seededRandom(12);
  // every established node runs a shard in 1000 µs; e1 alone costs 4400 µs, as e2 then e3 do
  const established = [
    holder('e1', 0, 4, { rttUs: 400, measuredUsPerToken: 4000 }),
    holder('e2', 0, 2, { measuredUsPerToken: 2000 }),
  ];
  const e3 = holder('e3', 2, 4, { measuredUsPerToken: 2000 });
  // newcomers that win the choices they are admitted to: unmeasured, they count the slowest measured
  // per shard (1000 µs), so their round trip of 1 µs makes them cheaper (n-whole 4001, e2 + n-half 4201)
  const newWhole = holder('n-whole', 0, 4, { goodSteps: 0, rttUs: 1 });
  const newHalf = holder('n-half', 2, 4, { goodSteps: PROBATION_STEPS / 2, rttUs: 1 });
  const counts = new Map<string, number>();
  const trials = 4000;
  for (let i = 0; i < trials; i++)
    for (const hop of chooseRoute('m', 4, [...established, e3, newWhole, newHalf], new Set(), random))
      counts.set(hop.nodeId, (counts.get(hop.nodeId) ?? 0) + 1);
  const share = (id: string) => (counts.get(id) ?? 0) / trials;
  // n-whole is chosen whenever admitted; n-half only when n-whole is not, so at most its share
  assert.ok(Math.abs(share('n-whole') - probationShare(0)) < 0.015, `n-whole ${share('n-whole')}`);
  const halfShare = probationShare(PROBATION_STEPS / 2) * (1 - probationShare(0));
  assert.ok(Math.abs(share('n-half') - halfShare) < 0.03, `n-half ${share('n-half')} vs ${halfShare}`);
  assert.ok(share('n-half') <= probationShare(PROBATION_STEPS / 2) + 0.02);
});

/** Every valid route over `nodes` (each a node's sub-span, tiling 0..shards, no node twice). */
function allRoutes(shards: number, nodes: readonly Candidate[]): RouteHop[][] {
  const routes: RouteHop[][] = [];
  const extend = (at: number, hops: RouteHop[]) => {
    if (at === shards) return void routes.push(hops);
    for (const c of nodes) {
      if (c.shardIndex > at || at >= c.shardEnd || hops.some((h) => h.nodeId === c.nodeId)) continue;
      for (let end = at + 1; end <= c.shardEnd; end++)
        extend(end, [...hops, { nodeId: c.nodeId, endpoint: c.endpoint, shardIndex: at, shardEnd: end, tls: c.tls }]);
    }
  };
  extend(0, []);
  return routes;
}

test('on small random networks the chosen route costs the least of all valid routes', () => {
  const random = seededRandom(7);
  const int = (below: number) => Math.floor(random() * below);
  let checked = 0;
  let subSpans = 0;
  for (let trial = 0; trial < 400; trial++) {
    const shards = 1 + int(5);
    const nodes: Candidate[] = Array.from({ length: 2 + int(5) }, (_, i) => {
      const start = int(shards);
      const end = start + 1 + int(shards - start);
      return holder(`n${i}`, start, end, {
        rttUs: 1 + int(400),
        activeSessions: int(4),
        pricePer1kTokens: int(20),
        ...(random() < 0.7 ? { measuredUsPerToken: int(3000) } : {}),
      });
    });
    const routes = allRoutes(shards, nodes);
    if (routes.length === 0) {
      assert.throws(() => chooseRoute('m', shards, nodes), NoRouteError, `trial ${trial}`);
      continue;
    }
    const measured = nodes
      .filter((c) => c.measuredUsPerToken !== undefined)
      .map((c) => c.measuredUsPerToken! / (c.shardEnd - c.shardIndex));
    const unmeasured = measured.length > 0 ? Math.max(...measured) : 0;
    const byId = new Map(nodes.map((c) => [c.nodeId, c]));
    const costOf = (route: readonly RouteHop[]) =>
      route.reduce(
        (sum, h) => sum + hopCost(byId.get(h.nodeId)!, { start: h.shardIndex, end: h.shardEnd }, unmeasured),
        0,
      );
    const least = Math.min(...routes.map(costOf));
    const route = chooseRoute('m', shards, nodes);
    const context = `trial ${trial}: ${JSON.stringify(nodes)} chose ${spans(route)}`;
    assert.ok(
      routes.some((r) => spans(r).join() === spans(route).join()),
      `not a valid route: ${context}`,
    );
    const cheapest = (r: readonly RouteHop[]) => Math.abs(costOf(r) - least) <= 1e-9 * Math.max(1, least);
    assert.ok(cheapest(route), `${costOf(route)} > ${least}: ${context}`);
    // among the cheapest, it has the fewest hops
    const fewest = Math.min(...routes.filter(cheapest).map((r) => r.length));
    assert.equal(route.length, fewest, context);
    checked++;
    if (route.some((h) => h.shardEnd - h.shardIndex < byId.get(h.nodeId)!.shardEnd - byId.get(h.nodeId)!.shardIndex))
      subSpans++;
  }
  assert.ok(checked > 250, `only ${checked} trials had a route`);
  assert.ok(subSpans > 50, `only ${subSpans} routes ran a node on part of its span`);
});

test('many identical nodes with round trips measured at zero still give one hop, not a search over every split', () => {
  // without a least round trip every split of the model among these nodes ties, 2^64 partial routes
  const nodes = Array.from({ length: 64 }, (_, i) =>
    holder(`n${String(i).padStart(2, '0')}`, 0, 32, { rttUs: 0, pricePer1kTokens: 0, measuredUsPerToken: 32_000 }),
  );
  assert.deepEqual(spans(chooseRoute('m', 32, nodes)), ['n00[0,32)']);
  const staggered = Array.from({ length: 64 }, (_, i) =>
    holder(`s${String(i).padStart(2, '0')}`, i % 17, (i % 17) + 16, {
      rttUs: 0,
      pricePer1kTokens: 0,
      measuredUsPerToken: 16_000,
    }),
  );
  assert.deepEqual(spans(chooseRoute('m', 32, staggered)), ['s00[0,16)', 's16[16,32)']);
});

test('the service record shares a decode step among its hops by shards run, counts verified steps, and a failure restarts probation', () => {
  const record = new ServiceRecord();
  const hops: RouteHop[] = [
    { nodeId: 'a', endpoint: 'e0', shardIndex: 0, shardEnd: 3, tls: false },
    { nodeId: 'b', endpoint: 'e1', shardIndex: 3, shardEnd: 4, tls: false },
  ];
  record.served(hops, 10_000, 5);
  assert.deepEqual(record.of('a'), { goodSteps: 1 });
  record.served(hops, 4_000, 1);
  assert.deepEqual(record.of('b'), { goodSteps: 2, usPerShard: 1_000 });
  record.served(hops, 8_000, 1);
  assert.equal(record.of('a').usPerShard, 1_200);
  record.failed('a');
  assert.equal(record.of('a').goodSteps, 0);
  assert.equal(record.of('b').goodSteps, 3);
});
