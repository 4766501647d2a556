import { randomBytes } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';

type Point = InstanceType<typeof secp256k1.Point>;
const Point = secp256k1.Point;
const { n: N, p: P } = Point.CURVE();

/** One signature to check: `signature` (r ‖ s ‖ v, as src/crypto/signature.ts makes) over `digest` by `publicKey`. */
export interface SignatureCheck {
  readonly digest: Uint8Array;
  readonly signature: Uint8Array;
  /** SEC1 public key, 65 or 33 bytes. */
  readonly publicKey: Uint8Array;
}

/** keccak256(domain ‖ 0x00 ‖ message): the digest src/crypto/signature.ts signs (its tests pin the two together). */
export function signatureDigest(domain: string, message: Uint8Array): Uint8Array {
  const prefix = utf8ToBytes(domain);
  const bytes = new Uint8Array(prefix.length + 1 + message.length);
  bytes.set(prefix);
  bytes.set(message, prefix.length + 1);
  return keccak_256(bytes);
}

/** A signature's parts, with R lifted from (r, v): a recoverable signature names its nonce point. */
interface Parsed {
  readonly h: bigint;
  readonly r: bigint;
  readonly s: bigint;
  readonly R: Point;
  readonly key: Point;
}

const keyCache = new Map<string, Point>();
const KEY_CACHE_MAX = 4096;

function publicKeyPoint(bytes: Uint8Array): Point | undefined {
  const id = Buffer.from(bytes).toString('hex');
  let point = keyCache.get(id);
  if (point === undefined) {
    try {
      point = Point.fromBytes(bytes);
    } catch {
      return undefined;
    }
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
    keyCache.set(id, point);
  }
  return point;
}

function parse(check: SignatureCheck): Parsed | undefined {
  const sig = check.signature;
  if (sig.length !== 65 || sig[64]! > 3 || check.digest.length !== 32) return undefined;
  const r = bytesToNumberBE(sig.subarray(0, 32));
  const s = bytesToNumberBE(sig.subarray(32, 64));
  if (r === 0n || r >= N || s === 0n || s >= N) return undefined;
  const key = publicKeyPoint(check.publicKey);
  if (key === undefined) return undefined;
  // Recovery ids 2 and 3 say R.x overflowed the group order: R.x = r + n.
  const x = sig[64]! >= 2 ? r + N : r;
  if (x >= P) return undefined;
  const compressed = new Uint8Array(33);
  compressed[0] = 2 + (sig[64]! & 1);
  compressed.set(numberToBytesBE(x, 32), 1);
  let R: Point;
  try {
    R = Point.fromBytes(compressed);
  } catch {
    return undefined;
  }
  return { h: bytesToNumberBE(check.digest) % N, r, s, R, key };
}

const Fn = Point.Fn;

/**
 * Σ scalarsᵢ·pointsᵢ for scalars below 2^bits, by Pippenger's bucket method: per window of c bits,
 * each point is added to the bucket of its digit (zero digits cost nothing, unlike noble's
 * pippenger, which is why short scalars pay off here) and the buckets are summed by running sums.
 */
function bucketMsm(points: readonly Point[], scalars: readonly bigint[], bits: number): Point {
  // The window that minimizes additions: one per point and window, two per bucket and window.
  let c = 4;
  const cost = (w: number) => Math.ceil(bits / w) * (points.length + 2 ** (w + 1));
  for (let w = 5; w <= 16; w++) if (cost(w) < cost(c)) c = w;
  const mask = BigInt((1 << c) - 1);
  let sum = Point.ZERO;
  for (let window = Math.ceil(bits / c) - 1; window >= 0; window--) {
    for (let i = 0; i < c && !sum.is0(); i++) sum = sum.double();
    const shift = BigInt(window * c);
    const buckets = new Array<Point | undefined>(1 << c);
    for (let j = 0; j < points.length; j++) {
      const digit = Number((scalars[j]! >> shift) & mask);
      if (digit !== 0) buckets[digit] = buckets[digit]?.add(points[j]!) ?? points[j]!;
    }
    let running: Point | undefined;
    let total: Point | undefined;
    for (let digit = buckets.length - 1; digit > 0; digit--) {
      const bucket = buckets[digit];
      if (bucket !== undefined) running = running?.add(bucket) ?? bucket;
      if (running !== undefined) total = total?.add(running) ?? running;
    }
    if (total !== undefined) sum = sum.add(total);
  }
  return sum;
}

/** Bits of the random multipliers: a forged signature survives a combined check with probability 2⁻¹²⁸. */
const RANDOMIZER_BITS = 128;

/**
 * Whether Σ aᵢRᵢ = (Σ aᵢhᵢ/sᵢ)·G + Σₖ (Σ_{i of key k} aᵢrᵢ/sᵢ)·Pₖ for random 128-bit aᵢ. Each
 * signature holds exactly when Rᵢ = (hᵢ/sᵢ)G + (rᵢ/sᵢ)Pᵢ (what recovering its signer solves for
 * Pᵢ), and a failing one survives the random combination with probability 2⁻¹²⁸. The left side is
 * one multi-scalar multiplication with short scalars; the right side, one multiplication per
 * distinct key: a fraction of the cost of separate verifications.
 */
function combinedHolds(items: readonly Parsed[]): boolean {
  const inverses = Fn.invertBatch(items.map((item) => item.s));
  const randomizers = items.map(() => bytesToNumberBE(randomBytes(RANDOMIZER_BITS / 8)) | 1n);
  let g = 0n;
  const keyScalars = new Map<Point, bigint>();
  items.forEach((item, i) => {
    const a = randomizers[i]!;
    const w = inverses[i]!;
    g = Fn.add(g, Fn.mul(a, Fn.mul(item.h, w)));
    keyScalars.set(item.key, Fn.add(keyScalars.get(item.key) ?? 0n, Fn.mul(a, Fn.mul(item.r, w))));
  });
  let right = g === 0n ? Point.ZERO : Point.BASE.multiplyUnsafe(g);
  for (const [key, scalar] of keyScalars) if (scalar !== 0n) right = right.add(key.multiplyUnsafe(scalar));
  return bucketMsm(items.map((item) => item.R), randomizers, RANDOMIZER_BITS).equals(right);
}

/**
 * Checks many signatures at once; true at index i when checks[i] holds. The same answers as
 * recovering each signer and comparing keys, at a fraction of the cost when most hold: a failing
 * batch is split in halves until the bad signatures are found.
 */
export function verifyBatch(checks: readonly SignatureCheck[]): boolean[] {
  const ok = new Array<boolean>(checks.length).fill(false);
  const parsed: { index: number; item: Parsed }[] = [];
  checks.forEach((check, index) => {
    const item = parse(check);
    if (item !== undefined) parsed.push({ index, item });
  });
  const settle = (part: typeof parsed): void => {
    if (part.length === 0) return;
    if (combinedHolds(part.map((p) => p.item))) {
      for (const p of part) ok[p.index] = true;
      return;
    }
    if (part.length === 1) return;
    const half = part.length >> 1;
    settle(part.slice(0, half));
    settle(part.slice(half));
  };
  settle(parsed);
  return ok;
}
