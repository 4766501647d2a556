/**
 * The layout cached keys take, for attention to read them where they lie: quads of positions, each
 * holding every key/value head, each head its dimensions, each dimension its four positions —
 * [⌈positions / 4⌉][kvHeads][headDim][4] f32 — so one f32x4 load gives one dimension of four
 * positions' keys, and a cache grows by appending quads (its first positions stay where they are).
 */

/** Where key `d` of key/value head `head` at `position` lies. */
export function keyQuadIndex(position: number, head: number, d: number, kvHeads: number, headDim: number): number {
  return (((position >> 2) * kvHeads + head) * headDim + d) * 4 + (position & 3);
}

/** Floats the keys of positions [0, positions) take: whole quads. */
export function keyQuadFloats(positions: number, kvHeads: number, headDim: number): number {
  return Math.ceil(positions / 4) * 4 * kvHeads * headDim;
}

/** Writes `rows` ([n × kvHeads × headDim], position by position) as positions [start, start + n) of `quads`. */
export function storeKeyQuads(
  quads: Float32Array,
  start: number,
  rows: Float32Array,
  n: number,
  kvHeads: number,
  headDim: number,
): void {
  const rowSize = kvHeads * headDim;
  for (let t = 0; t < n; t++) {
    const position = start + t;
    // dimension d of head h lies at base + 4·(h·headDim + d): one stride of 4 along the row
    const base = keyQuadIndex(position, 0, 0, kvHeads, headDim);
    const row = t * rowSize;
    for (let i = 0; i < rowSize; i++) quads[base + 4 * i] = rows[row + i]!;
  }
}
