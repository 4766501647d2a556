import { createRequire } from 'node:module';
import type * as Secp256k1 from 'secp256k1';
import { hex } from './hash.ts';
import { keccak256 } from './keccak.ts';
import type { KeyPair } from './keys.ts';

// libsecp256k1 (Bitcoin Core's library, a prebuilt addon inside the npm package) signs and recovers
// about 8× faster than JavaScript here, and every forward step, share and block is signed or checked.
// The package falls back to a JavaScript implementation where its addon cannot load.
const secp256k1 = createRequire(import.meta.url)('secp256k1') as typeof Secp256k1;

/**
 * Signatures are over keccak256(domain || 0x00 || message), so a signature made for one purpose
 * (a registration, a commitment, a share) can never be replayed as another.
 */
export function signatureDigest(domain: string, message: Uint8Array): Uint8Array {
  return keccak256(domainPrefix(domain), message);
}

/**
 * A handful of constant domains sign everything: each one's `domain || 0x00` is encoded once. The
 * cache is bounded, so a caller passing domains it was sent cannot grow it.
 */
const prefixes = new Map<string, Uint8Array>();
const MAX_CACHED_DOMAINS = 64;

function domainPrefix(domain: string): Uint8Array {
  let prefix = prefixes.get(domain);
  if (prefix === undefined) {
    prefix = Buffer.from(`${domain}\0`, 'utf8');
    if (prefixes.size < MAX_CACHED_DOMAINS) prefixes.set(domain, prefix);
  }
  return prefix;
}

/** A 65-byte recoverable signature (r || s || recovery), as Ethereum tooling expects: deterministic (RFC 6979), low s. */
export function sign(key: KeyPair, domain: string, message: Uint8Array): Uint8Array {
  const { signature, recid } = secp256k1.ecdsaSign(signatureDigest(domain, message), key.secretKey);
  const out = new Uint8Array(65);
  out.set(signature, 0);
  out[64] = recid;
  return out;
}

/** Half the order of secp256k1's group: an s above it is the other of two signatures of one message. */
const HALF_ORDER = Buffer.from('7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0', 'hex');

/**
 * The address that signed `message` under `domain`, or undefined for a malformed signature. Only the
 * low-s form is taken (as `sign` makes and Ethereum requires): with both, anyone could turn one
 * signed statement into a second, different-looking one of the same signer.
 */
export function recoverSigner(domain: string, message: Uint8Array, signature: Uint8Array): string | undefined {
  if (signature.length !== 65 || signature[64]! > 3) return undefined;
  if (Buffer.compare(signature.subarray(32, 64), HALF_ORDER) > 0) return undefined;
  try {
    const publicKey = secp256k1.ecdsaRecover(
      signature.subarray(0, 64),
      signature[64]!,
      signatureDigest(domain, message),
      false,
    );
    // addressOf (keys.ts) of an uncompressed key, with the faster keccak
    return `0x${hex(keccak256(publicKey.subarray(1)).subarray(12))}`;
  } catch {
    return undefined;
  }
}
