import { createRequire } from 'node:module';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import type * as Secp256k1 from 'secp256k1';
import { addressOf, type KeyPair } from './keys.ts';

// libsecp256k1 (Bitcoin Core's library, a prebuilt addon inside the npm package) signs and recovers
// about 8× faster than JavaScript here, and every forward step, share and block is signed or checked.
// The package falls back to a JavaScript implementation where its addon cannot load.
const secp256k1 = createRequire(import.meta.url)('secp256k1') as typeof Secp256k1;

/**
 * Signatures are over keccak256(domain || 0x00 || message), so a signature made for one purpose
 * (a registration, a commitment, a share) can never be replayed as another.
 */
export function signatureDigest(domain: string, message: Uint8Array): Uint8Array {
  const prefix = utf8ToBytes(domain);
  const bytes = new Uint8Array(prefix.length + 1 + message.length);
  bytes.set(prefix);
  bytes.set(message, prefix.length + 1);
  return keccak_256(bytes);
}

/** A 65-byte recoverable signature (r || s || recovery), as Ethereum tooling expects: deterministic (RFC 6979), low s. */
export function sign(key: KeyPair, domain: string, message: Uint8Array): Uint8Array {
  const { signature, recid } = secp256k1.ecdsaSign(signatureDigest(domain, message), key.secretKey);
  const out = new Uint8Array(65);
  out.set(signature, 0);
  out[64] = recid;
  return out;
}

/** The address that signed `message` under `domain`, or undefined for a malformed signature. */
export function recoverSigner(domain: string, message: Uint8Array, signature: Uint8Array): string | undefined {
  if (signature.length !== 65 || signature[64]! > 3) return undefined;
  try {
    return addressOf(
      secp256k1.ecdsaRecover(signature.subarray(0, 64), signature[64]!, signatureDigest(domain, message), false),
    );
  } catch {
    return undefined;
  }
}
