import { hexToBytes } from '@noble/hashes/utils.js';
import { checkHeaderSignature, hex, receiptsRootOf, sharesRootOf, type Block } from './block.ts';
import { InvalidBlockError, type Chain } from './chain.ts';
import type { Membership } from './membership.ts';
import { slotOf } from './params.ts';
import { clientAddressOf, openReceipt, RECEIPT_DOMAIN, receiptHashOf, type UsageReceipt } from './receipt.ts';
import { RecordFormatError } from './record.ts';
import { openShare, SHARE_DOMAIN, shareHashOf, type Share } from './share.ts';
import type { SignaturePool } from './signature-pool.ts';
import type { NewReceipt, NewShare } from './store.ts';

export interface BlockCheckContext {
  readonly chain: Chain;
  readonly membership: Membership;
  readonly pool: SignaturePool;
  readonly nowMs: number;
}

/**
 * The checks of a block from another daemon that need nothing but the block and the registry:
 * form, producer and its signature, roots and totals, receipts and share signatures (skipping
 * those this daemon already checked). What depends on the chain below it (fee, duplicates, receipt
 * totals) is checked when it is applied. Throws InvalidBlockError; returns the rows to store.
 */
export async function checkBlock(block: Block, context: BlockCheckContext): Promise<{ shares: NewShare[]; receipts: NewReceipt[] }> {
  const { chain, membership, pool } = context;
  const { header } = block;
  const params = chain.params;
  const invalid = (reason: string) => new InvalidBlockError(block.hash, reason);
  if (header.height === 0) throw invalid('a genesis block is never sent');
  if (header.slot !== slotOf(header.timestampMs, params)) throw invalid(`slot ${header.slot} does not match its timestamp ${header.timestampMs}`);
  if (header.timestampMs > context.nowMs + params.blockIntervalMs) throw invalid(`its timestamp is ${header.timestampMs - context.nowMs} ms in the future`);
  const badSignature = checkHeaderSignature(block);
  if (badSignature !== undefined) throw invalid(badSignature);
  if (header.shareCount !== block.shares.length) throw invalid(`header counts ${header.shareCount} shares, the block holds ${block.shares.length}`);
  if (header.shareCount > params.maxSharesPerBlock) throw invalid(`${header.shareCount} shares exceed the ${params.maxSharesPerBlock} a block may hold`);

  const shareHashes = block.shares.map((s) => shareHashOf(s.payload));
  if (sharesRootOf(shareHashes) !== header.sharesRoot) throw invalid('its shares do not match the header\'s shares root');
  if (new Set(shareHashes.map((h) => h.toString('hex'))).size !== shareHashes.length) throw invalid('it holds a share twice');
  const receiptHashes = block.receipts.map((r) => receiptHashOf(r.payload));
  if (receiptsRootOf(receiptHashes) !== header.receiptsRoot) throw invalid('its receipts do not match the header\'s receipts root');

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
    const row = { hash, payload: signed.payload, signature: signed.signature, sessionHash: receipt.sessionHash, modelId: receipt.modelId, client, tokensPerShard: JSON.stringify(receipt.tokensPerShard) };
    receipts.set(hash.toString('hex'), { receipt, row, held: chain.store.receipt(hash) !== undefined });
  });

  const shares: { share: Share; row: NewShare; held: boolean }[] = block.shares.map((signed, i) => {
    const hash = shareHashes[i]!;
    let share: Share;
    try {
      share = openShare(signed.payload);
    } catch (error) {
      if (error instanceof RecordFormatError) throw invalid(`share ${hex(hash)}: ${error.message}`);
      throw error;
    }
    const receipt = receipts.get(share.receiptHash)?.receipt;
    if (receipt === undefined) throw invalid(`share ${hex(hash)} references receipt ${share.receiptHash}, which the block does not carry`);
    if (receipt.sessionHash !== share.sessionHash || share.shardIndex >= receipt.tokensPerShard.length) throw invalid(`share ${hex(hash)} does not match its receipt's session or shards`);
    const row = {
      hash, payload: signed.payload, signature: signed.signature, nodeId: share.nodeId, shardIndex: share.shardIndex, sessionHash: share.sessionHash,
      receiptHash: Buffer.from(share.receiptHash, 'hex'), tokens: share.tokensProcessed, weight: share.weight,
    };
    return { share, row, held: chain.store.shareState(hash) !== undefined };
  });
  const tokens = shares.reduce((sum, s) => sum + s.row.tokens, 0);
  const weight = shares.reduce((sum, s) => sum + s.row.weight, 0);
  if (tokens !== header.tokens || weight !== header.weight) throw invalid(`header totals (${header.tokens} tokens, weight ${header.weight}) differ from its shares' (${tokens}, ${weight})`);

  // Admission is the registry's: the producer must be a registered daemon and each new share's
  // signer the share key its node registered (evicted since or not: the block may be old).
  const toCheck = shares.filter((s) => !s.held);
  let members;
  try {
    members = await membership.lookup([header.producer, ...toCheck.map((s) => s.share.nodeId)]);
  } catch (error) {
    throw new Error(`cannot check block ${hex(block.hash)}: the registry did not answer: ${(error as { details?: string }).details || (error as Error).message}`);
  }
  if (members.get(header.producer)?.role !== 'daemon') throw invalid(`its producer ${header.producer} is not a registered daemon`);
  for (const s of toCheck) {
    const member = members.get(s.share.nodeId);
    if (member?.role !== 'node') throw invalid(`share ${hex(s.row.hash)} is from ${s.share.nodeId}, not a registered node`);
  }
  const newReceipts = [...receipts.values()].filter((r) => !r.held);
  const ok = await pool.verify([
    ...toCheck.map((s) => ({ domain: SHARE_DOMAIN, payload: s.row.payload, signature: s.row.signature, publicKey: hexToBytes(members.get(s.share.nodeId)!.shareKey) })),
    ...newReceipts.map((r) => ({ domain: RECEIPT_DOMAIN, payload: r.row.payload, signature: r.row.signature, publicKey: hexToBytes(r.receipt.clientKey) })),
  ]);
  const bad = ok.indexOf(false);
  if (bad >= 0) {
    throw invalid(bad < toCheck.length ? `share ${hex(toCheck[bad]!.row.hash)} is not signed by its node's share key` : `receipt ${hex(newReceipts[bad - toCheck.length]!.row.hash)} is not signed by its client`);
  }
  return { shares: shares.map((s) => s.row), receipts: [...receipts.values()].map((r) => r.row) };
}
