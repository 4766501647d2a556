import { sha256 } from '../crypto/hash.ts';
import { randomBytes } from 'node:crypto';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { canonicalJson } from '../crypto/canonical-json.ts';
import { addressOf, type KeyPair } from '../crypto/keys.ts';
import { recoverSigner, sign } from '../crypto/signature.ts';
import { isCount, isHexBytes, parseRecord, RecordFormatError, requireFields, type SignedRecord } from './record.ts';

export const RECEIPT_DOMAIN = 'tessera/v1/receipt';

/**
 * What a client attests it used in one session: tokens per shard so far. A session may have several
 * receipts with growing counts; the shares of a shard may add up to the count of the receipt they
 * reference.
 */
export interface UsageReceipt {
  readonly sessionHash: string;
  readonly modelId: string;
  /** The client's public key, hex (65-byte uncompressed or 33-byte compressed): who pays. */
  readonly clientKey: string;
  /** Index k: the tokens shard k may claim for this session. */
  readonly tokensPerShard: readonly number[];
  readonly timestampMs: number;
  /** 16 random bytes, hex: two receipts with the same counts stay distinct. */
  readonly nonce: string;
}

const RECEIPT_KEYS = ['sessionHash', 'modelId', 'clientKey', 'tokensPerShard', 'timestampMs', 'nonce'] as const;

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
  const payload = canonicalJson({ ...receipt, tokensPerShard: [...receipt.tokensPerShard] });
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
    'tokensPerShard (counts)':
      Array.isArray(r.tokensPerShard) && r.tokensPerShard.length > 0 && r.tokensPerShard.every(isCount),
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
