import { sha256 } from '../crypto/hash.ts';
import { canonicalJson } from '../crypto/canonical-json.ts';
import {
  isAddress,
  isCount,
  isHexBytes,
  parseRecord,
  RecordFormatError,
  requireFields,
  type SignedRecord,
} from './record.ts';
import { openSignedStatement, statementSigner, uncovered, type OpenedStatement } from './share-batch.ts';

/**
 * The most positions one share may claim: one forward step's worth, far above any context. With
 * MAX_RECEIPT_TOKENS and a block's share cap it keeps a block's and a window's token sums exact.
 */
export const MAX_SHARE_TOKENS = 2 ** 20;

/**
 * A compute share (docs/ARCHITECTURE.md §7): work a node did for one session as one hop of its
 * route, backed by the client's usage receipt for that session, which must name the node at that
 * hop's position (route[shardIndex]). Its value
 * is not a field: it is the tokens it claims, priced at the base fee of the block that holds it and
 * paid from the deposit of the receipt's client. It carries no signature of its own: the node signs
 * each batch of shares it sends once (share-batch.ts).
 */
export interface Share {
  readonly nodeId: string;
  /**
   * The node's position in the receipt's route (its hop, 0-based), not a shard: a hop runs a span of
   * the shards its node holds, so a node holding [0, 3) may be hop 1 of a route.
   */
  readonly shardIndex: number;
  /** 1 to MAX_SHARE_TOKENS. */
  readonly tokensProcessed: number;
  readonly timestampMs: number;
  /** sessionHashOf(session id), hex: names the session without revealing its id. */
  readonly sessionHash: string;
  /** receiptHashOf(the usage receipt that backs this share), hex. */
  readonly receiptHash: string;
}

/** A share as a block holds it: its payload and a statement of its node that lists it. */
export interface BlockShare {
  readonly payload: Uint8Array;
  readonly statement: SignedRecord;
}

const SHARE_KEYS = ['nodeId', 'shardIndex', 'tokensProcessed', 'timestampMs', 'sessionHash', 'receiptHash'] as const;

/** sha256 of the session id, hex: what shares and receipts carry instead of the session id. */
export function sessionHashOf(sessionId: string): string {
  return sha256(new TextEncoder().encode(sessionId)).toString('hex');
}

/** A share's payload: its canonical JSON. */
export function encodeShare(share: Share): Uint8Array {
  return canonicalJson({ ...share });
}

/** A share's identity: sha256 of its payload. */
export function shareHashOf(payload: Uint8Array): Buffer {
  return sha256(payload);
}

/** The share a payload holds; a RecordFormatError names what is wrong. Says nothing of who signed it. */
export function openShare(payload: Uint8Array): Share {
  const s = parseRecord(payload, 'share', SHARE_KEYS);
  requireFields('share', {
    'nodeId (a lowercase 0x address)': isAddress(s.nodeId),
    shardIndex: isCount(s.shardIndex),
    [`tokensProcessed (1 to ${MAX_SHARE_TOKENS})`]:
      isCount(s.tokensProcessed) && s.tokensProcessed >= 1 && s.tokensProcessed <= MAX_SHARE_TOKENS,
    timestampMs: isCount(s.timestampMs),
    'sessionHash (32 hex bytes)': isHexBytes(s.sessionHash, 32),
    'receiptHash (32 hex bytes)': isHexBytes(s.receiptHash, 32),
  });
  return s as unknown as Share;
}

// Shares of one block point at a few statements: each is parsed and recovered once.
const openedStatements = new WeakMap<SignedRecord, { opened?: OpenedStatement; signer?: string }>();

/**
 * The address whose key signed the statement that lists the share for the share's node; undefined
 * when the statement is malformed, does not list the share, is for another node, or its signature
 * recovers no key.
 */
export function shareSigner(share: BlockShare): string | undefined {
  let known = openedStatements.get(share.statement);
  if (known === undefined) {
    try {
      known = { opened: openSignedStatement(share.statement), signer: statementSigner(share.statement) };
    } catch (error) {
      if (!(error instanceof RecordFormatError)) throw error;
      known = {};
    }
    openedStatements.set(share.statement, known);
  }
  if (known.opened === undefined || known.signer === undefined) return undefined;
  let nodeId: string;
  try {
    nodeId = openShare(share.payload).nodeId;
  } catch (error) {
    if (!(error instanceof RecordFormatError)) throw error;
    return undefined;
  }
  return uncovered(known.opened, nodeId, shareHashOf(share.payload).toString('hex')) === undefined
    ? known.signer
    : undefined;
}
