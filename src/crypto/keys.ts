import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';

/** A secp256k1 identity: its node id is the Ethereum-style address of the public key. */
export interface KeyPair {
  readonly secretKey: Uint8Array;
  /** Uncompressed (65 bytes, 0x04 prefix). */
  readonly publicKey: Uint8Array;
  /** 0x-prefixed lowercase hex address. */
  readonly address: string;
}

export class KeyFileError extends Error {
  constructor(
    message: string,
    readonly code: 'MISSING' | 'MODE' | 'FORMAT' | 'EXISTS',
  ) {
    super(message);
  }
}

export function addressOf(publicKey: Uint8Array): string {
  const uncompressed = publicKey.length === 65 ? publicKey : secp256k1.Point.fromBytes(publicKey).toBytes(false);
  return `0x${bytesToHex(keccak_256(uncompressed.subarray(1)).subarray(12))}`;
}

export function keyPairFromSecret(secretKey: Uint8Array): KeyPair {
  const publicKey = secp256k1.getPublicKey(secretKey, false);
  return { secretKey, publicKey, address: addressOf(publicKey) };
}

export function generateKeyPair(): KeyPair {
  return keyPairFromSecret(secp256k1.utils.randomSecretKey());
}

/**
 * Writes a new key file (hex secret, mode 0600). Refuses to overwrite: losing a key loses what the
 * node earned.
 */
export function writeNewKeyFile(path: string): KeyPair {
  if (existsSync(path)) throw new KeyFileError(`${path} already exists; refusing to overwrite a key`, 'EXISTS');
  mkdirSync(dirname(path), { recursive: true });
  const pair = generateKeyPair();
  writeFileSync(path, `${bytesToHex(pair.secretKey)}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return pair;
}

/** Reads a key file, refusing one that group or others can read or write. */
export function readKeyFile(path: string): KeyPair {
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    throw new KeyFileError(
      `key file ${path} does not exist; create one with: tessera keys new --out ${path}`,
      'MISSING',
    );
  }
  if ((mode & 0o077) !== 0) {
    throw new KeyFileError(
      `key file ${path} has mode ${mode.toString(8).padStart(4, '0')}, readable by others; fix it with: chmod 600 ${path}`,
      'MODE',
    );
  }
  const text = readFileSync(path, 'utf8').trim().replace(/^0x/, '');
  if (!/^[0-9a-fA-F]{64}$/.test(text))
    throw new KeyFileError(`key file ${path} does not hold a 32-byte hex secret key`, 'FORMAT');
  const secretKey = hexToBytes(text);
  if (!secp256k1.utils.isValidSecretKey(secretKey))
    throw new KeyFileError(`key file ${path} holds an invalid secp256k1 key`, 'FORMAT');
  return keyPairFromSecret(secretKey);
}
