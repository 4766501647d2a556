import { hex } from '../crypto/hash.ts';
import { checkHeaderSignature, setRootOf, sharesRootOf, type Block } from './block.ts';
import { InvalidBlockError, type Chain } from './chain.ts';
import { shareKeyAddress, shareKeyAddresses, type Member, type Membership } from './membership.ts';
import { epochOf, slotOf } from './params.ts';
import { checkBlockRoster } from './roster-check.ts';
import { clientAddressOf, openReceipt, RECEIPT_DOMAIN, receiptHashOf, type UsageReceipt } from '../protocol/receipt.ts';
import { RecordFormatError, type SignedRecord } from '../protocol/record.ts';
import { openShare, shareHashOf, type Share } from '../protocol/share.ts';
import type { SignaturePool } from './signature-pool.ts';
import {
  openSignedStatement,
  SHARE_BATCH_DOMAIN,
  statementSigner,
  uncovered,
  type OpenedStatement,
} from '../protocol/share-batch.ts';
import type { NewReceipt, NewShare, NewStatement } from './store.ts';

export interface BlockCheckContext {
  readonly chain: Chain;
  readonly membership: Membership;
  readonly pool: SignaturePool;
  readonly nowMs: number;
  /** Who may sign rosters (learned from the registry); undefined until learned: blocks with a roster not held yet cannot be checked. */
  readonly authorities: ReadonlySet<string> | undefined;
}

/**
 * The checks of a block from another daemon that need nothing but the block and the registry:
 * form, producer and its signature, roots and totals, receipts, and that each share is listed in a
 * statement of its node signed with that node's share key (each statement and receipt this daemon
 * does not hold yet is checked once). What depends on the chain below it (fee, duplicates, receipt
 * totals) is checked when it is applied. Throws InvalidBlockError; returns the rows to store.
 */
export async function checkBlock(
  block: Block,
  context: BlockCheckContext,
): Promise<{ shares: NewShare[]; receipts: NewReceipt[]; statements: NewStatement[] }> {
  const { chain, membership, pool } = context;
  const { header } = block;
  const params = chain.params;
  const invalid = (reason: string) => new InvalidBlockError(block.hash, reason);
  if (header.height === 0) throw invalid('a genesis block is never sent');
  if (header.slot !== slotOf(header.timestampMs, params))
    throw invalid(`slot ${header.slot} does not match its timestamp ${header.timestampMs}`);
  if (header.timestampMs > context.nowMs + params.blockIntervalMs)
    throw invalid(`its timestamp is ${header.timestampMs - context.nowMs} ms in the future`);
  const badSignature = checkHeaderSignature(block);
  if (badSignature !== undefined) throw invalid(badSignature);
  const badRoster = checkBlockRoster(block, epochOf(header.slot, params), chain.store, context.authorities);
  if (badRoster !== undefined) throw invalid(badRoster);
  if (header.shareCount !== block.shares.length)
    throw invalid(`header counts ${header.shareCount} shares, the block holds ${block.shares.length}`);
  if (header.shareCount > params.maxSharesPerBlock)
    throw invalid(`${header.shareCount} shares exceed the ${params.maxSharesPerBlock} a block may hold`);

  const shareHashes = block.shares.map((s) => shareHashOf(s.payload));
  if (sharesRootOf(shareHashes) !== header.sharesRoot)
    throw invalid("its shares do not match the header's shares root");
  if (new Set(shareHashes.map((h) => h.toString('hex'))).size !== shareHashes.length)
    throw invalid('it holds a share twice');
  const receiptHashes = block.receipts.map((r) => receiptHashOf(r.payload));
  if (setRootOf(receiptHashes) !== header.receiptsRoot)
    throw invalid("its receipts do not match the header's receipts root");

  const receipts = new Map<string, { receipt: UsageReceipt; row: NewReceipt; held: boolean }>();
  block.receipts.forEach((signed, i) => {
    const hash = receiptHashes[i]!;
    let receipt: UsageReceipt;
    let client: string;
    try {
      receipt = openReceipt(signed.payload);
      client = clientAddressOf(receipt);
    } catch (error) {
      if (error instanceof RecordFormatError) throw invalid(`receipt ${hex(hash)}: ${error.message}`);
      throw error;
    }
    const row = {
      hash,
      payload: signed.payload,
      signature: signed.signature,
      sessionHash: receipt.sessionHash,
      modelId: receipt.modelId,
      client,
      tokensPerShard: JSON.stringify(receipt.tokensPerShard),
    };
    receipts.set(hash.toString('hex'), { receipt, row, held: chain.store.receipt(hash) !== undefined });
  });

  const statements = new Map<SignedRecord, { opened: OpenedStatement; held: boolean; used: boolean }>();
  for (const signed of block.statements) {
    let opened: OpenedStatement;
    try {
      opened = openSignedStatement(signed);
    } catch (error) {
      if (error instanceof RecordFormatError) throw invalid(error.message);
      throw error;
    }
    statements.set(signed, { opened, held: chain.store.statement(opened.hash) !== undefined, used: false });
  }
  const statementHashes = [...statements.values()].map((s) => s.opened.hash);
  if (setRootOf(statementHashes) !== header.statementsRoot)
    throw invalid("its statements do not match the header's statements root");
  if (new Set(statementHashes.map(hex)).size !== statementHashes.length) throw invalid('it holds a statement twice');

  const shares: { share: Share; row: NewShare }[] = block.shares.map((blockShare, i) => {
    const hash = shareHashes[i]!;
    let share: Share;
    try {
      share = openShare(blockShare.payload);
    } catch (error) {
      if (error instanceof RecordFormatError) throw invalid(`share ${hex(hash)}: ${error.message}`);
      throw error;
    }
    const statement = statements.get(blockShare.statement);
    if (statement === undefined) throw invalid(`share ${hex(hash)} points at a statement the block does not carry`);
    const notCovered = uncovered(statement.opened, share.nodeId, hex(hash));
    if (notCovered !== undefined) throw invalid(notCovered.message);
    statement.used = true;
    const receipt = receipts.get(share.receiptHash)?.receipt;
    if (receipt === undefined)
      throw invalid(`share ${hex(hash)} references receipt ${share.receiptHash}, which the block does not carry`);
    // The share's shardIndex is its node's position in the receipt's route (its hop).
    if (receipt.sessionHash !== share.sessionHash || share.shardIndex >= receipt.tokensPerShard.length)
      throw invalid(`share ${hex(hash)} does not match its receipt's session or hops`);
    if (receipt.route[share.shardIndex] !== share.nodeId)
      throw invalid(
        `share ${hex(hash)} is of ${share.nodeId}, but its receipt pays ${receipt.route[share.shardIndex]} for hop ${share.shardIndex} of its route`,
      );
    const row = {
      hash,
      payload: blockShare.payload,
      statement: statement.opened.hash,
      nodeId: share.nodeId,
      shardIndex: share.shardIndex,
      sessionHash: share.sessionHash,
      receiptHash: Buffer.from(share.receiptHash, 'hex'),
      tokens: share.tokensProcessed,
    };
    return { share, row };
  });
  const unused = [...statements.values()].find((s) => !s.used);
  if (unused !== undefined) throw invalid(`statement ${hex(unused.opened.hash)} lists none of its shares`);
  const tokens = shares.reduce((sum, s) => sum + s.row.tokens, 0);
  if (tokens !== header.tokens) throw invalid(`header counts ${header.tokens} tokens, its shares ${tokens}`);

  // Admission is the registry's: its signed roster vouches for the producer (so a daemon that left
  // since still counts for the slots it led), and each new statement's signer must be the share key
  // its node registered (evicted since or not: the block may be old).
  const newStatements = [...statements.values()].filter((s) => !s.held).map((s) => s.opened);
  let members = new Map<string, Member>();
  try {
    if (newStatements.length > 0) members = await membership.lookup(newStatements.map((s) => s.nodeId));
  } catch (error) {
    throw new Error(
      `cannot check block ${hex(block.hash)}: the registry did not answer: ${(error as { details?: string }).details || (error as Error).message}`,
    );
  }
  for (const s of newStatements) {
    if (members.get(s.nodeId)?.role !== 'node')
      throw invalid(`statement ${hex(s.hash)} is of ${s.nodeId}, not a registered node`);
  }
  const newReceipts = [...receipts.values()].filter((r) => !r.held);
  const ok = await pool.verify([
    ...newStatements.map((s) => ({
      domain: SHARE_BATCH_DOMAIN,
      payload: s.hash,
      signature: s.signed.signature,
      signer: shareKeyAddress(members.get(s.nodeId)!),
    })),
    ...newReceipts.map((r) => ({
      domain: RECEIPT_DOMAIN,
      payload: r.row.payload,
      signature: r.row.signature,
      signer: r.row.client,
    })),
  ]);
  // A statement signed before its node changed its share key is checked against every key it registered.
  newStatements.forEach((s, i) => {
    if (!ok[i] && shareKeyAddresses(members.get(s.nodeId)!).has(statementSigner(s.signed) ?? '')) ok[i] = true;
  });
  const bad = ok.indexOf(false);
  if (bad >= 0) {
    throw invalid(
      bad < newStatements.length
        ? `statement ${hex(newStatements[bad]!.hash)} is not signed by its node's share key`
        : `receipt ${hex(newReceipts[bad - newStatements.length]!.row.hash)} is not signed by its client`,
    );
  }
  return {
    shares: shares.map((s) => s.row),
    receipts: [...receipts.values()].map((r) => r.row),
    statements: [...statements.values()].map(({ opened }) => ({
      hash: opened.hash,
      payload: opened.signed.payload,
      signature: opened.signed.signature,
    })),
  };
}
