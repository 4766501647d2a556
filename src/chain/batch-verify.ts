import { randomBytes } from 'node:crypto';
import { pippenger } from '@noble/curves/abstract/curve.js';
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

const mod = (a: bigint) => ((a % N) + N) % N;

/**
 * Whether Σ aᵢ(sᵢRᵢ − hᵢG − rᵢPᵢ) = 0 for random 128-bit aᵢ: each term is zero exactly when
 * signature i recovers to key Pᵢ (sR = hG + rP is what recovery solves for P), and a bad term
 * survives the random combination with probability 2⁻¹²⁸. One multi-scalar multiplication over
 * all Rᵢ, G and the distinct keys costs a fraction of separate verifications.
 */
function combinedHolds(items: readonly Parsed[]): boolean {
  const points: Point[] = [];
  const scalars: bigint[] = [];
  let g = 0n;
  const keyScalars = new Map<Point, bigint>();
  for (const item of items) {
    const a = bytesToNumberBE(randomBytes(16)) | 1n;
    points.push(item.R);
    scalars.push(mod(a * item.s));
    g += a * item.h;
    keyScalars.set(item.key, (keyScalars.get(item.key) ?? 0n) + a * item.r);
  }
  points.push(Point.BASE.negate());
  scalars.push(mod(g));
  for (const [key, scalar] of keyScalars) {
    points.push(key.negate());
    scalars.push(mod(scalar));
  }
  return pippenger(Point, points, scalars).is0();
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
