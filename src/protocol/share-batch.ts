import { sha256 } from '../crypto/hash.ts';
import { canonicalJson } from '../crypto/canonical-json.ts';
import type { KeyPair } from '../crypto/keys.ts';
import { recoverSigner, sign } from '../crypto/signature.ts';
import { isAddress, isHexBytes, parseRecord, requireFields, type SignedRecord } from './record.ts';

export const SHARE_BATCH_DOMAIN = 'tessera/v1/share-batch';

/** Share hashes one statement may list: a SubmitShares call's worth. */
export const MAX_SHARES_PER_STATEMENT = 20_000;

/**
 * A share-batch statement: a node's one signature over a batch of its compute shares. The signature
 * covers exactly the listed hashes, so a share counts as the node's only where a statement of that
 * node lists it; a block may carry a statement with only some of its shares.
 *
 * The node signs the statement's hash (sha256 of its payload, its identity), not the payload itself:
 * keccak, which every signature digest runs, costs milliseconds in JavaScript over the payload of a
 * thousand shares, and sha256 of it is computed natively (and needed anyway) by whoever checks it.
 */
export interface ShareBatchStatement {
  readonly nodeId: string;
  /** sha256 of each share payload, hex, in the order the node sent them. */
  readonly shares: readonly string[];
}

/** Shares a node sends together with the statement that signs them (the proto's ShareBatch). */
export interface ShareBatch {
  readonly statement: SignedRecord;
  /** Share payloads, each listed in the statement. */
  readonly shares: readonly Uint8Array[];
}

const STATEMENT_KEYS = ['nodeId', 'shares'] as const;

/** Signs a statement listing `shareHashes` (hex) for the key's node. */
export function signStatement(
  shareKey: KeyPair,
  shareHashes: readonly string[],
  nodeId: string = shareKey.address,
): SignedRecord {
  const payload = canonicalJson({ nodeId, shares: [...shareHashes] });
  return { payload, signature: sign(shareKey, SHARE_BATCH_DOMAIN, statementHashOf(payload)) };
}

/** A batch of share payloads, signed once by the node's share key. */
export function signBatch(shareKey: KeyPair, shares: readonly Uint8Array[]): ShareBatch {
  return {
    statement: signStatement(
      shareKey,
      shares.map((s) => sha256(s).toString('hex')),
    ),
    shares,
  };
}

export function statementHashOf(payload: Uint8Array): Buffer {
  return sha256(payload);
}

/** The statement a payload holds; a RecordFormatError names what is wrong. Says nothing of its signature. */
export function openStatement(payload: Uint8Array): ShareBatchStatement {
  const s = parseRecord(payload, 'share-batch statement', STATEMENT_KEYS);
  requireFields('share-batch statement', {
    'nodeId (a lowercase 0x address)': isAddress(s.nodeId),
    [`shares (1 to ${MAX_SHARES_PER_STATEMENT} share hashes, 32 hex bytes each)`]:
      Array.isArray(s.shares) &&
      s.shares.length >= 1 &&
      s.shares.length <= MAX_SHARES_PER_STATEMENT &&
      s.shares.every((h) => isHexBytes(h, 32)),
  });
  return s as unknown as ShareBatchStatement;
}

/** The address whose key signed the statement, or undefined for a malformed signature. */
export function statementSigner(signed: SignedRecord): string | undefined {
  return recoverSigner(SHARE_BATCH_DOMAIN, statementHashOf(signed.payload), signed.signature);
}

/** A statement as a daemon checks shares against it: parsed, with its listed hashes as a set. */
export interface OpenedStatement {
  readonly hash: Buffer;
  readonly signed: SignedRecord;
  readonly nodeId: string;
  readonly listed: ReadonlySet<string>;
}

/** Parses a signed statement for checking shares against it; a RecordFormatError when malformed. */
export function openSignedStatement(signed: SignedRecord): OpenedStatement {
  const statement = openStatement(signed.payload);
  return { hash: statementHashOf(signed.payload), signed, nodeId: statement.nodeId, listed: new Set(statement.shares) };
}

/** Why a share (of `nodeId`, hash `shareHash` hex) is not covered by a statement, or undefined when it is. */
export function uncovered(
  statement: OpenedStatement,
  nodeId: string,
  shareHash: string,
): { readonly otherNode: boolean; readonly message: string } | undefined {
  if (nodeId !== statement.nodeId)
    return {
      otherNode: true,
      message: `share ${shareHash} is of node ${nodeId}, but its statement is for node ${statement.nodeId}`,
    };
  if (!statement.listed.has(shareHash))
    return {
      otherNode: false,
      message: `share ${shareHash} is not listed in its batch's statement ${statement.hash.toString('hex')}`,
    };
  return undefined;
}
