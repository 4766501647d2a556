// What every hop pays per decoded token in hashing: keccak-256 of a commitment's signed bytes
// (domain || 0x00 || 160-byte message: two blocks) and of a public key (an address: one block),
// ours against @noble/hashes (which the project used before) in the same run.
import { keccak_256 } from '@noble/hashes/sha3.js';
import { keccak256 } from '../src/crypto/keccak.ts';
import type { BenchRow } from './row.ts';

export interface CryptoBenchOptions {
  readonly quick?: boolean;
}

/** Operations per second of `work`, the best of several timed runs of at least `ms` each. */
function opsPerSecond(ms: number, work: () => unknown): number {
  let best = 0;
  for (let run = 0; run < 5; run++) {
    let ops = 0;
    const started = performance.now();
    let elapsed = 0;
    do {
      for (let i = 0; i < 100; i++) work();
      ops += 100;
      elapsed = performance.now() - started;
    } while (elapsed < ms);
    best = Math.max(best, (ops * 1000) / elapsed);
  }
  return best;
}

export function cryptoBenchRows(options: CryptoBenchOptions = {}): BenchRow[] {
  const ms = options.quick ? 50 : 300;
  const rows: BenchRow[] = [];
  for (const [what, bytes] of [
    ['a commitment digest (182 B, 2 blocks)', 182],
    ['an address (64 B, 1 block)', 64],
  ] as const) {
    const input = Uint8Array.from({ length: bytes }, (_, i) => (i * 29 + 5) & 255);
    process.stderr.write(`measuring keccak-256 of ${what} ...\n`);
    // each warmed up before either is timed, then timed in turn
    opsPerSecond(ms, () => keccak256(input));
    opsPerSecond(ms, () => keccak_256(input));
    rows.push({
      figure: `keccak-256 of ${what}`,
      ours: opsPerSecond(ms, () => keccak256(input)),
      reference: opsPerSecond(ms, () => keccak_256(input)),
      referenceName: '@noble/hashes',
      unit: 'op/s',
    });
  }
  return rows;
}
