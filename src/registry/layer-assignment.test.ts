import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignAll, chooseRange, rebalance, weakest, type Span } from './layer-assignment.ts';

/** A deterministic pseudo-random sequence, so a failing case can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** The best weakest-layer throughput any placement of the nodes can reach: every start of every node tried. */
function bruteForce(layers: number, nodes: readonly { capacity: number; throughput: number }[]): number {
  let best = 0;
  const starts = new Array<number>(nodes.length).fill(0);
  const walk = (i: number): void => {
    if (i === nodes.length) {
      const spans = nodes.map((n, k) => ({
        nodeId: String(k),
        start: starts[k]!,
        end: starts[k]! + Math.min(n.capacity, layers),
        throughput: n.throughput,
      }));
      best = Math.max(best, weakest(layers, spans));
      return;
    }
    for (let s = 0; s + Math.min(nodes[i]!.capacity, layers) <= layers; s++) {
      starts[i] = s;
      walk(i + 1);
    }
  };
  walk(0);
  return best;
}

test('a joining node covers the uncovered layers first, then the slowest', () => {
  const spans: Span[] = [{ nodeId: 'a', start: 0, end: 4, throughput: 10 }];
  assert.deepEqual(chooseRange(8, spans, 4, 5), { start: 4, end: 8 });
  spans.push({ nodeId: 'b', start: 4, end: 8, throughput: 3 });
  assert.deepEqual(chooseRange(8, spans, 2, 5), { start: 4, end: 6 }, 'the slowest layers, lowest start among equals');
  assert.deepEqual(chooseRange(8, spans, 20, 5), { start: 0, end: 8 }, 'never more than the model has');
  assert.throws(() => chooseRange(8, spans, 0, 5), /at least one layer/);
});

test('a node never moves when its leaving would uncover a layer, and otherwise only past the hysteresis', () => {
  const alone: Span[] = [
    { nodeId: 'a', start: 0, end: 4, throughput: 10 },
    { nodeId: 'b', start: 4, end: 8, throughput: 10 },
  ];
  assert.equal(rebalance(8, alone, alone[0]!), undefined);
  const crowded: Span[] = [
    { nodeId: 'a', start: 0, end: 4, throughput: 10 },
    { nodeId: 'b', start: 0, end: 4, throughput: 10 },
    { nodeId: 'c', start: 4, end: 8, throughput: 2 },
  ];
  assert.deepEqual(
    rebalance(8, crowded, crowded[1]!),
    { start: 4, end: 8 },
    'from the doubled layers to the slow ones',
  );
  const slightly: Span[] = [
    { nodeId: 'a', start: 0, end: 4, throughput: 10 },
    { nodeId: 'b', start: 0, end: 4, throughput: 1 },
    { nodeId: 'c', start: 4, end: 8, throughput: 9 },
  ];
  assert.equal(rebalance(8, slightly, slightly[1]!), undefined, '9 → 10 is within the hysteresis: stay');
});

test('property: every layer is covered whenever the nodes can cover them, and the weakest layer is within 10 % of the best placement', () => {
  const next = random(7);
  let cases = 0;
  for (let trial = 0; trial < 400; trial++) {
    const layers = 2 + Math.floor(next() * 7);
    const nodes = Array.from({ length: 1 + Math.floor(next() * 4) }, (_, i) => ({
      nodeId: `n${i}`,
      capacity: 1 + Math.floor(next() * layers),
      throughput: 1 + Math.floor(next() * 20),
    }));
    const best = bruteForce(layers, nodes);
    const spans = assignAll(layers, nodes);
    const got = weakest(layers, spans);
    const context = `layers ${layers}, nodes ${JSON.stringify(nodes)}, spans ${JSON.stringify(spans)}`;
    if (best > 0) assert.ok(got > 0, `a layer left uncovered: ${context}`);
    assert.ok(got >= 0.9 * best, `weakest ${got} < 0.9 × best ${best}: ${context}`);
    assert.ok(
      spans.every((s) => s.start >= 0 && s.end <= layers && s.end > s.start),
      context,
    );
    cases++;
  }
  assert.equal(cases, 400);
});
