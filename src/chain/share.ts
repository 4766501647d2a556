import { canonicalJson } from '../crypto/canonical-json.ts';
import type { KeyPair } from '../crypto/keys.ts';
import { recoverSigner, sign } from '../crypto/signature.ts';
import { isAddress, isCount, isHexBytes, parseRecord, requireFields, sha256, type SignedRecord } from './record.ts';

export const SHARE_DOMAIN = 'tessera/v1/share';

/** Weights are fixed-point thousandths: one forward pass of a text shard weighs WEIGHT_ONE. */
export const WEIGHT_ONE = 1000;

/**
 * A compute share (ARCHITECTURE.md §7): work a node did for one session on one shard, backed by
 * the client's usage receipt for that session.
 */
export interface Share {
  readonly nodeId: string;
  readonly shardIndex: number;
  /** At least 1. */
  readonly tokensProcessed: number;
  /** Thousandths (WEIGHT_ONE = 1.0), at least 1. */
  readonly weight: number;
  readonly timestampMs: number;
  /** sessionHashOf(session id), hex: names the session without revealing its id. */
  readonly sessionHash: string;
  /** receiptHashOf(the usage receipt that backs this share), hex. */
  readonly receiptHash: string;
}

const SHARE_KEYS = ['nodeId', 'shardIndex', 'tokensProcessed', 'weight', 'timestampMs', 'sessionHash', 'receiptHash'] as const;

/** sha256 of the session id, hex: what shares and receipts carry instead of the session id. */
export function sessionHashOf(sessionId: string): string {
  return sha256(new TextEncoder().encode(sessionId)).toString('hex');
}

/** Signs a share with the node's registered share key. */
export function signShare(shareKey: KeyPair, share: Share): SignedRecord {
  const payload = canonicalJson({ ...share });
  return { payload, signature: sign(shareKey, SHARE_DOMAIN, payload) };
}

/** A share's identity: sha256 of its payload. */
export function shareHashOf(payload: Uint8Array): Buffer {
  return sha256(payload);
}

/** The share a payload holds; a RecordFormatError names what is wrong. Says nothing of its signature. */
export function openShare(payload: Uint8Array): Share {
  const s = parseRecord(payload, 'share', SHARE_KEYS);
  requireFields('share', {
    'nodeId (a lowercase 0x address)': isAddress(s.nodeId),
    shardIndex: isCount(s.shardIndex),
    'tokensProcessed (at least 1)': isCount(s.tokensProcessed) && (s.tokensProcessed as number) >= 1,
    'weight (thousandths, at least 1)': isCount(s.weight) && (s.weight as number) >= 1,
    timestampMs: isCount(s.timestampMs),
    'sessionHash (32 hex bytes)': isHexBytes(s.sessionHash, 32),
    'receiptHash (32 hex bytes)': isHexBytes(s.receiptHash, 32),
  });
  return s as unknown as Share;
}

/** The address whose key signed the share, or undefined for a malformed signature. */
export function shareSigner(signed: SignedRecord): string | undefined {
  return recoverSigner(SHARE_DOMAIN, signed.payload, signed.signature);
}
