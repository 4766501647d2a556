/**
 * Which layers a node should serve (issue 12; Petals' block selection): the network is as fast as
 * its weakest layer, so a joining node covers uncovered layers first and otherwise the slowest, and
 * a serving node moves only when moving raises the network's weakest layer by a clear margin and
 * leaves no layer uncovered. Throughput is a node's tokens per second through any one of its layers.
 * A "layer" is the caller's unit: the registry counts a manifest's shards (shard-assignment.ts), which
 * are layers in a cut of one shard per layer.
 */

/** A node's layers [start, end) and its per-layer throughput. */
export interface Span {
  readonly nodeId: string;
  readonly start: number;
  readonly end: number;
  readonly throughput: number;
}

/** Moving must raise the weakest layer's throughput to at least current / HYSTERESIS (Petals uses 0.75). */
export const HYSTERESIS = 0.75;

/** The summed throughput of every layer. */
export function layerThroughput(layers: number, spans: readonly Span[]): number[] {
  const sums = new Array<number>(layers).fill(0);
  for (const s of spans) for (let l = Math.max(0, s.start); l < Math.min(layers, s.end); l++) sums[l]! += s.throughput;
  return sums;
}

/** The network's weakest layer: what every pipeline through it is limited by (0: a layer nobody serves). */
export function weakest(layers: number, spans: readonly Span[]): number {
  return Math.min(...layerThroughput(layers, spans));
}

/** Layers [start, end). */
export interface Range {
  readonly start: number;
  readonly end: number;
}

/**
 * Of `candidates`, the range a node of `throughput` should take beside `spans`: the one that leaves
 * the weakest layer strongest; among equals the one that leaves the fewest layers nobody serves,
 * then the longest, then the one over the weakest layers (their throughputs, sorted, compared in
 * order), then the one the node holds most of (`held`), then the lowest start. Undefined when there
 * is no candidate.
 */
export function bestRange(
  layers: number,
  spans: readonly Span[],
  candidates: readonly Range[],
  throughput: number,
  held: (range: Range) => number = () => 0,
): Range | undefined {
  const current = layerThroughput(layers, spans);
  const scored = candidates.map((range) => {
    const after = current.map((t, l) => (l >= range.start && l < range.end ? t + throughput : t));
    return {
      range,
      min: Math.min(...after),
      uncovered: after.filter((t) => t === 0).length,
      window: current.slice(range.start, range.end).sort((a, b) => a - b),
      held: held(range),
    };
  });
  scored.sort(
    (a, b) =>
      b.min - a.min ||
      a.uncovered - b.uncovered ||
      b.range.end - b.range.start - (a.range.end - a.range.start) ||
      compareLexically(a.window, b.window) ||
      b.held - a.held ||
      a.range.start - b.range.start,
  );
  const best = scored[0]?.range;
  return best === undefined ? undefined : { start: best.start, end: best.end };
}

/**
 * The range of `capacity` consecutive layers (at most all of them) a node of `throughput` should
 * take beside `spans`: the one that leaves the weakest layer strongest; among equals, the one over
 * the weakest layers (their throughputs, sorted, compared in order), then the lowest start.
 */
export function chooseRange(layers: number, spans: readonly Span[], capacity: number, throughput: number): Range {
  if (!Number.isInteger(capacity) || capacity < 1)
    throw new RangeError(`a node must hold at least one layer, got capacity ${capacity}`);
  const length = Math.min(capacity, layers);
  const candidates = Array.from({ length: layers - length + 1 }, (_, start) => ({ start, end: start + length }));
  return bestRange(layers, spans, candidates, throughput)!;
}

/**
 * Where node `me` should move, or undefined to stay: never when its leaving would uncover a layer,
 * and only when the weakest layer after the move is at least the current one / HYSTERESIS (or the
 * move covers a layer nobody serves).
 */
export function rebalance(layers: number, spans: readonly Span[], me: Span): Range | undefined {
  const others = spans.filter((s) => s.nodeId !== me.nodeId);
  const target = chooseRange(layers, others, me.end - me.start, me.throughput);
  return worthMoving(layers, others, me, target) ? target : undefined;
}

/**
 * Whether `me` should leave its range for `target`: not when its leaving would uncover a layer, and
 * only when the weakest layer after the move is at least the current one / HYSTERESIS (or, with a
 * layer nobody serves now, when the move leaves none).
 */
export function worthMoving(layers: number, others: readonly Span[], me: Span, target: Range): boolean {
  if (target.start === me.start && target.end === me.end) return false;
  const now = weakest(layers, [...others, me]);
  if (weakest(layers, others) === 0 && now > 0) return false;
  const after = weakest(layers, [...others, { ...me, ...target }]);
  return now === 0 ? after > 0 : after >= now / HYSTERESIS;
}

/**
 * A plan for a whole set of nodes (a registry placing many at once, or checking its network): nodes
 * join one by one, then single moves that make the layers' throughputs better (sorted, compared in
 * order: the weakest first) are taken until none is left; tried with a few joining orders, the best
 * plan kept. Online moves still wait for the hysteresis (rebalance); a plan has none to wait for.
 */
export function assignAll(
  layers: number,
  nodes: readonly { readonly nodeId: string; readonly capacity: number; readonly throughput: number }[],
): Span[] {
  const orders = [
    [...nodes].sort((a, b) => b.capacity - a.capacity || b.throughput - a.throughput),
    [...nodes].sort((a, b) => b.throughput - a.throughput || b.capacity - a.capacity),
    [...nodes].sort((a, b) => a.capacity - b.capacity || b.throughput - a.throughput),
    [...nodes],
  ];
  let best: { spans: Span[]; profile: number[] } | undefined;
  for (const order of orders) {
    const spans: Span[] = [];
    for (const n of order)
      spans.push({
        nodeId: n.nodeId,
        throughput: n.throughput,
        ...chooseRange(layers, spans, n.capacity, n.throughput),
      });
    improve(layers, spans);
    const profile = sortedProfile(layers, spans);
    if (best === undefined || lexicallyLess(best.profile, profile)) best = { spans, profile };
  }
  return best!.spans;
}

/** Takes single moves that improve the sorted layer throughputs until none is left. */
function improve(layers: number, spans: Span[]): void {
  // Each move makes the sorted profile strictly better, and there are finitely many placements.
  for (let moved = true, rounds = 0; moved && rounds < 1_000; rounds++) {
    moved = false;
    for (let i = 0; i < spans.length; i++) {
      const me = spans[i]!;
      const length = me.end - me.start;
      let profile = sortedProfile(layers, spans);
      for (let start = 0; start + length <= layers; start++) {
        if (start === spans[i]!.start) continue;
        const candidate = [...spans];
        candidate[i] = { ...me, start, end: start + length };
        const next = sortedProfile(layers, candidate);
        if (lexicallyLess(profile, next)) {
          spans[i] = candidate[i]!;
          profile = next;
          moved = true;
        }
      }
    }
  }
}

function sortedProfile(layers: number, spans: readonly Span[]): number[] {
  return layerThroughput(layers, spans).sort((a, b) => a - b);
}

function lexicallyLess(a: readonly number[], b: readonly number[]): boolean {
  return compareLexically(a, b) < 0;
}

/** Negative when `a` comes first: element by element, then the shorter. */
function compareLexically(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
