import { sha256 } from '../crypto/hash.ts';
import { canonicalJson, type CanonicalValue } from '../crypto/canonical-json.ts';
import type { KeyPair } from '../crypto/keys.ts';
import { recoverSigner, sign } from '../crypto/signature.ts';
import { checkChainParams, type ChainParams } from './params.ts';
import {
  isAddress,
  isCount,
  isHexBytes,
  parseRecord,
  RecordFormatError,
  requireFields,
  type SignedRecord,
} from '../protocol/record.ts';
import type { BlockShare } from '../protocol/share.ts';

export const BLOCK_DOMAIN = 'tessera/v1/block';
export const ZERO_HASH = '00'.repeat(32);

/** What a block commits to; its hash is sha256 of the header's canonical JSON. */
export interface BlockHeader {
  /** 2 since shares are signed per batch (statements). */
  readonly version: 2;
  readonly height: number;
  readonly parentHash: string;
  /** The address of the daemon that produced it ('' for genesis). */
  readonly producer: string;
  readonly slot: number;
  readonly timestampMs: number;
  readonly shareCount: number;
  /** sharesRootOf(the share hashes, in block order). */
  readonly sharesRoot: string;
  /** setRootOf(the hashes of the receipts the block carries). */
  readonly receiptsRoot: string;
  /** setRootOf(the hashes of the share-batch statements the block carries). */
  readonly statementsRoot: string;
  /** Sum of the shares' tokens: below 2^40 (MAX_SHARE_TOKENS × a block's share cap). */
  readonly tokens: number;
  /** Fee state: the base price per token this block's shares pay. */
  readonly baseFeePerToken: number;
  /** rosterHashOf(the signed roster of the block's epoch that names its producer the slot's leader); ZERO_HASH for genesis. */
  readonly rosterHash: string;
  /** Genesis only: the rules of the chain. */
  readonly params?: ChainParams;
}

/** A block as daemons store and send it. */
export interface Block {
  readonly header: BlockHeader;
  readonly hash: Buffer;
  /** The header's canonical JSON and its producer's signature (empty for genesis). */
  readonly signedHeader: SignedRecord;
  /** In block order, each with a statement of `statements` that lists it. */
  readonly shares: readonly BlockShare[];
  readonly receipts: readonly SignedRecord[];
  readonly statements: readonly SignedRecord[];
  /** The roster `header.rosterHash` names, as its registry signed it (empty for genesis). */
  readonly roster: SignedRecord;
}

const HEADER_KEYS = [
  'version',
  'height',
  'parentHash',
  'producer',
  'slot',
  'timestampMs',
  'shareCount',
  'sharesRoot',
  'receiptsRoot',
  'statementsRoot',
  'tokens',
  'baseFeePerToken',
  'rosterHash',
] as const;
const PARAM_KEYS = [
  'blockIntervalMs',
  'maxSharesPerBlock',
  'initialBaseFee',
  'minBaseFee',
  'windowBlocks',
  'epochSlots',
  'finalityDepth',
] as const;

export function sharesRootOf(shareHashes: readonly Uint8Array[]): string {
  return sha256(Buffer.concat(shareHashes)).toString('hex');
}

/** Order-free, for what a block carries as a set: receipts, statements. */
export function setRootOf(hashes: readonly Uint8Array[]): string {
  return sha256(Buffer.concat([...hashes].map((h) => Buffer.from(h)).sort(Buffer.compare))).toString('hex');
}

export function encodeHeader(header: BlockHeader): Uint8Array {
  return canonicalJson(header as unknown as CanonicalValue);
}

/** The block every daemon of a chain starts from: it holds the chain's rules and nothing else. */
export function genesisBlock(params: ChainParams): Block {
  const header: BlockHeader = {
    version: 2,
    height: 0,
    parentHash: ZERO_HASH,
    producer: '',
    slot: 0,
    timestampMs: 0,
    shareCount: 0,
    sharesRoot: sharesRootOf([]),
    receiptsRoot: setRootOf([]),
    statementsRoot: setRootOf([]),
    tokens: 0,
    baseFeePerToken: params.initialBaseFee,
    rosterHash: ZERO_HASH,
    params: { ...checkChainParams(params) },
  };
  const payload = encodeHeader(header);
  return {
    header,
    hash: sha256(payload),
    signedHeader: { payload, signature: new Uint8Array(0) },
    shares: [],
    receipts: [],
    statements: [],
    roster: { payload: new Uint8Array(0), signature: new Uint8Array(0) },
  };
}

export function signHeader(producer: KeyPair, header: BlockHeader): SignedRecord {
  const payload = encodeHeader(header);
  return { payload, signature: sign(producer, BLOCK_DOMAIN, payload) };
}

/** The header a payload holds; a RecordFormatError names what is wrong. */
export function openHeader(payload: Uint8Array): BlockHeader {
  const h = parseRecord(payload, 'block header', HEADER_KEYS, ['params']);
  requireFields('block header', {
    'version (2)': h.version === 2,
    height: isCount(h.height),
    'parentHash (32 hex bytes)': isHexBytes(h.parentHash, 32),
    'producer (an address)': h.height === 0 ? h.producer === '' : isAddress(h.producer),
    slot: isCount(h.slot),
    timestampMs: isCount(h.timestampMs),
    shareCount: isCount(h.shareCount),
    sharesRoot: isHexBytes(h.sharesRoot, 32),
    receiptsRoot: isHexBytes(h.receiptsRoot, 32),
    statementsRoot: isHexBytes(h.statementsRoot, 32),
    tokens: isCount(h.tokens),
    baseFeePerToken: isCount(h.baseFeePerToken),
    'rosterHash (32 hex bytes; zeros for genesis)':
      isHexBytes(h.rosterHash, 32) && (h.height === 0) === (h.rosterHash === ZERO_HASH),
  });
  if ((h.height === 0) !== (h.params !== undefined))
    throw new RecordFormatError('malformed block header: genesis, and only genesis, holds params');
  if (h.height === 0) {
    const params = h.params;
    if (typeof params !== 'object' || params === null || Array.isArray(params))
      throw new RecordFormatError('malformed block header: genesis params');
    const keys = Object.keys(params);
    if (keys.length !== PARAM_KEYS.length || !PARAM_KEYS.every((k) => keys.includes(k)))
      throw new RecordFormatError(`malformed block header: genesis params must be exactly ${PARAM_KEYS.join(', ')}`);
  }
  return h as unknown as BlockHeader;
}

/** The producer's address if the header's signature is its producer's, else a reason. */
export function checkHeaderSignature(block: { header: BlockHeader; signedHeader: SignedRecord }): string | undefined {
  const signer = recoverSigner(BLOCK_DOMAIN, block.signedHeader.payload, block.signedHeader.signature);
  if (signer === undefined) return 'block signature is malformed';
  if (signer !== block.header.producer)
    return `block is signed by ${signer}, not by its producer ${block.header.producer}`;
  return undefined;
}
