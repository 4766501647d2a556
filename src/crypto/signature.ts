import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { addressOf, type KeyPair } from './keys.ts';

/**
 * Signatures are over keccak256(domain || 0x00 || message), so a signature made for one purpose
 * (a registration, a commitment, a share) can never be replayed as another.
 */
function digest(domain: string, message: Uint8Array): Uint8Array {
  const prefix = utf8ToBytes(domain);
  const bytes = new Uint8Array(prefix.length + 1 + message.length);
  bytes.set(prefix);
  bytes.set(message, prefix.length + 1);
  return keccak_256(bytes);
}

/** A 65-byte recoverable signature (r || s || recovery), as Ethereum tooling expects. */
export function sign(key: KeyPair, domain: string, message: Uint8Array): Uint8Array {
  const recovered = secp256k1.sign(digest(domain, message), key.secretKey, { prehash: false, format: 'recovered' });
  // noble puts the recovery byte first; Ethereum puts it last.
  const out = new Uint8Array(65);
  out.set(recovered.subarray(1), 0);
  out[64] = recovered[0]!;
  return out;
}

/** The address that signed `message` under `domain`, or undefined for a malformed signature. */
export function recoverSigner(domain: string, message: Uint8Array, signature: Uint8Array): string | undefined {
  if (signature.length !== 65 || signature[64]! > 3) return undefined;
  const noble = new Uint8Array(65);
  noble[0] = signature[64]!;
  noble.set(signature.subarray(0, 64), 1);
  try {
    return addressOf(secp256k1.recoverPublicKey(noble, digest(domain, message), { prehash: false }));
  } catch {
    return undefined;
  }
}
