import { sha256 } from '../crypto/hash.ts';
import { randomBytes } from 'node:crypto';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { canonicalJson } from '../crypto/canonical-json.ts';
import { addressOf, type KeyPair } from '../crypto/keys.ts';
import { recoverSigner, sign } from '../crypto/signature.ts';
import {
  isAddress,
  isCount,
  isHexBytes,
  parseRecord,
  RecordFormatError,
  requireFields,
  type SignedRecord,
} from './record.ts';

export const RECEIPT_DOMAIN = 'tessera/v1/receipt';

/**
 * The most positions a receipt lets one shard claim in one session: bounded so that every sum the
 * chain and settlement take over receipts stays an exact integer (docs/ARCHITECTURE.md §7).
 */
export const MAX_RECEIPT_TOKENS = 2 ** 32;

/**
 * What a client attests it used in one session: tokens per shard so far, and the node it pays for
 * each shard (the route it chose). A session may have several receipts with growing counts; the
 * shares of a shard's node may add up to the count of the receipt they reference, and no other node's.
 */
export interface UsageReceipt {
  readonly sessionHash: string;
  readonly modelId: string;
  /** The client's public key, hex (65-byte uncompressed or 33-byte compressed): who pays. */
  readonly clientKey: string;
  /** Index k: the tokens shard k may claim for this session. */
  readonly tokensPerShard: readonly number[];
  /** Index k: the node id (address) that serves shard k for this session: the only node shard k's tokens pay. */
  readonly route: readonly string[];
  readonly timestampMs: number;
  /** 16 random bytes, hex: two receipts with the same counts stay distinct. */
  readonly nonce: string;
}

/** Shards one receipt may count: far above any model's pipeline, low enough that a receipt stays small. */
export const MAX_RECEIPT_SHARDS = 256;

const RECEIPT_KEYS = [
  'sessionHash',
  'modelId',
  'clientKey',
  'tokensPerShard',
  'route',
  'timestampMs',
  'nonce',
] as const;

/** Signs a usage receipt with the client's key (which the receipt names). */
export function signReceipt(
  clientKey: KeyPair,
  usage: Omit<UsageReceipt, 'clientKey' | 'nonce'> & { readonly nonce?: string },
): SignedRecord {
  const receipt: UsageReceipt = {
    ...usage,
    clientKey: bytesToHex(clientKey.publicKey),
    nonce: usage.nonce ?? randomBytes(16).toString('hex'),
  };
  const payload = canonicalJson({ ...receipt, tokensPerShard: [...receipt.tokensPerShard], route: [...receipt.route] });
  return { payload, signature: sign(clientKey, RECEIPT_DOMAIN, payload) };
}

/** A receipt's identity, which shares reference: sha256 of its payload. */
export function receiptHashOf(payload: Uint8Array): Buffer {
  return sha256(payload);
}

/** The receipt a payload holds; a RecordFormatError names what is wrong. Says nothing of its signature. */
export function openReceipt(payload: Uint8Array): UsageReceipt {
  const r = parseRecord(payload, 'receipt', RECEIPT_KEYS);
  requireFields('receipt', {
    'sessionHash (32 hex bytes)': isHexBytes(r.sessionHash, 32),
    modelId: typeof r.modelId === 'string' && r.modelId !== '',
    'clientKey (a hex public key)': isHexBytes(r.clientKey, 65) || isHexBytes(r.clientKey, 33),
    [`tokensPerShard (counts up to ${MAX_RECEIPT_TOKENS})`]:
      Array.isArray(r.tokensPerShard) &&
      r.tokensPerShard.length > 0 &&
      r.tokensPerShard.length <= MAX_RECEIPT_SHARDS &&
      r.tokensPerShard.every((t) => isCount(t) && t <= MAX_RECEIPT_TOKENS),
    'route (a node address per shard)':
      Array.isArray(r.route) &&
      Array.isArray(r.tokensPerShard) &&
      r.route.length === r.tokensPerShard.length &&
      r.route.every(isAddress),
    timestampMs: isCount(r.timestampMs),
    'nonce (16 hex bytes)': isHexBytes(r.nonce, 16),
  });
  return r as unknown as UsageReceipt;
}

/** The address of the receipt's client key: the account that pays for the session. */
export function clientAddressOf(receipt: UsageReceipt): string {
  try {
    return addressOf(hexToBytes(receipt.clientKey));
  } catch {
    throw new RecordFormatError(`receipt clientKey ${receipt.clientKey.slice(0, 16)}… is not a point on secp256k1`);
  }
}

/**
 * The receipt, once its signature is its client's. Throws a RecordFormatError for a malformed
 * payload or a signature by anyone else.
 */
export function verifyReceipt(signed: SignedRecord): UsageReceipt {
  const receipt = openReceipt(signed.payload);
  const client = clientAddressOf(receipt);
  const signer = recoverSigner(RECEIPT_DOMAIN, signed.payload, signed.signature);
  if (signer !== client)
    throw new RecordFormatError(
      signer === undefined
        ? 'receipt signature is malformed'
        : `receipt is signed by ${signer}, not by its client ${client}`,
    );
  return receipt;
}
