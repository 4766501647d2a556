// Deterministic input mutation for the file-format fuzz tests: a seed names every input, so a failure
// reproduces from the seed and the iteration printed with it.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** mulberry32: small, fast and good enough to pick mutations. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Lengths and counts a hostile file claims: just past 32 bits, 2^40, 2^53 + 1, 2^63, 2^64 - 1 and kin. */
export const HUGE_U64: readonly bigint[] = [
  0xffffffffn,
  0x100000000n,
  2n ** 40n,
  2n ** 53n - 1n,
  2n ** 53n + 1n,
  2n ** 63n,
  2n ** 64n - 1n,
  64n * 2n ** 20n + 1n,
];

/**
 * One mutation of `input`: bit flips, a truncation, a random byte run, or a u64 at a random offset
 * set to a huge length. `from` keeps the first bytes (the magic) intact when the caller wants to get
 * past them.
 */
export function mutate(input: Uint8Array, random: () => number, from = 0): Uint8Array {
  const bytes = Buffer.from(input);
  const at = (span = 1) => from + Math.floor(random() * Math.max(1, bytes.length - from - span));
  const op = Math.floor(random() * 5);
  switch (op) {
    case 0: {
      const flips = 1 + Math.floor(random() * 8);
      for (let i = 0; i < flips; i++) bytes[at()]! ^= 1 << Math.floor(random() * 8);
      return bytes;
    }
    case 1:
      return bytes.subarray(0, at());
    case 2: {
      const start = at(16);
      for (let i = start; i < Math.min(bytes.length, start + 16); i++) bytes[i] = Math.floor(random() * 256);
      return bytes;
    }
    default: {
      if (bytes.length < from + 8) return bytes;
      const huge = HUGE_U64[Math.floor(random() * HUGE_U64.length)]!;
      bytes.writeBigUInt64LE(huge, at(8));
      return bytes;
    }
  }
}

/** Random bytes, `length` long. */
export function randomBytes(random: () => number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
}

let collect: (() => void) | undefined;

/** The garbage collector, so a test can measure what a parse keeps (not what it briefly touched). */
export function garbageCollector(): () => void {
  if (!collect) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as () => void;
  }
  return collect;
}

/** Heap and ArrayBuffer bytes in use now. */
export function memoryInUse(): number {
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}
