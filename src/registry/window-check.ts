import { hex, sha256 } from '../crypto/hash.ts';
import { checkHeaderSignature, type Block } from '../chain/block.ts';
import type { DaemonClient } from '../chain/daemon-client.ts';
import { nextBaseFee } from '../chain/fee.ts';
import { checkChainParams, epochOf, type ChainParams } from '../chain/params.ts';
import { leaderOf, openRoster, rosterSigner } from '../chain/roster.ts';
import type { FlowRow } from '../chain/store.ts';
import { makeSummary, windowRange, type SettlementSummary } from '../chain/summary.ts';
import { clientAddressOf, receiptHashOf, verifyReceipt, type UsageReceipt } from '../protocol/receipt.ts';
import { RecordFormatError, type SignedRecord } from '../protocol/record.ts';
import { openShare, shareHashOf } from '../protocol/share.ts';
import { openSignedStatement, statementSigner, uncovered, type OpenedStatement } from '../protocol/share-batch.ts';

/** What the registry knows to check a daemon's blocks with. */
export interface WindowCheckContext {
  /** Addresses of every share key `nodeId` ever registered (empty: a node the registry never admitted). */
  readonly shareKeysOf: (nodeId: string) => ReadonlySet<string>;
  /** Addresses whose signature makes a roster (the cluster's registry keys). */
  readonly authorities: ReadonlySet<string>;
  /** The genesis hash of the chain this registry settles, once pinned. */
  readonly genesis: string | undefined;
}

export type WindowOutcome =
  | {
      readonly status: 'checked';
      readonly summary: SettlementSummary;
      readonly genesis: string;
      readonly lastBlock: Block;
    }
  | { readonly status: 'waiting'; readonly reason: string }
  /** The daemon served blocks that break a rule: the registry settles from another. */
  | { readonly status: 'refused'; readonly reason: string };

/**
 * Window `window` of the chain a daemon serves, checked by the registry itself before anything is
 * paid for it (docs/ARCHITECTURE.md §8): the chain is the one this registry settles (its genesis),
 * the window lies finalityDepth blocks below the daemon's head (so no reorganization can touch it),
 * its blocks link up from the window's parent, each is signed by the leader its roster draws for
 * its slot, holds the fee the fee rule gives, and every share is listed in a statement signed by a
 * share key its node registered, backed by a receipt its client signed that names that node at the
 * share's position in the route, within the receipt's count for that hop. The summary is computed
 * here from those blocks: the daemon's own summary is never trusted.
 */
export async function checkWindow(
  daemon: DaemonClient,
  window: number,
  context: WindowCheckContext,
): Promise<WindowOutcome> {
  const refused = (reason: string) => ({ status: 'refused' as const, reason: `daemon ${daemon.endpoint}: ${reason}` });
  const genesisBlock = await daemon.block(0);
  const genesis = hex(sha256(genesisBlock.signedHeader.payload));
  if (context.genesis !== undefined && genesis !== context.genesis)
    return refused(`it serves the chain of genesis ${genesis}; this registry settles ${context.genesis}`);
  let params: ChainParams;
  try {
    params = checkChainParams(genesisBlock.header.params!);
  } catch (error) {
    return refused(`its genesis holds unusable parameters: ${(error as Error).message}`);
  }
  const range = windowRange(params, window);
  const { head } = await daemon.head();
  if (head.header.height < range.toHeight + params.finalityDepth)
    return {
      status: 'waiting',
      reason: `window ${window} (heights ${range.fromHeight}-${range.toHeight}) is final from height ${range.toHeight + params.finalityDepth}; daemon ${daemon.endpoint} is at ${head.header.height}`,
    };

  const blocks: Block[] = [];
  for (let from = range.fromHeight - 1; from <= range.toHeight;) {
    const { blocks: got } = await daemon.blocks(from, range.toHeight);
    if (got.length === 0) return refused(`it holds no block at height ${from} below its head`);
    blocks.push(...got);
    from = got.at(-1)!.header.height + 1;
  }
  const receipts = new Map<string, { receipt: UsageReceipt; client: string } | undefined>();
  const statements = new Map<SignedRecord, { opened: OpenedStatement; signer: string | undefined } | undefined>();
  const claimed = new Map<string, number>();
  const rows: FlowRow[] = [];
  for (let i = 1; i < blocks.length; i++) {
    const parent = blocks[i - 1]!;
    const block = blocks[i]!;
    const { header } = block;
    const at = `block ${header.height}`;
    if (header.height !== parent.header.height + 1) return refused(`${at} follows height ${parent.header.height}`);
    if (!sha256(block.signedHeader.payload).equals(block.hash)) return refused(`${at}'s hash is not its header's`);
    if (header.parentHash !== hex(sha256(parent.signedHeader.payload)))
      return refused(`${at} does not build on the block below it`);
    if (header.slot <= parent.header.slot) return refused(`${at}'s slot is not after its parent's`);
    const badSignature = checkHeaderSignature(block);
    if (badSignature !== undefined) return refused(`${at}: ${badSignature}`);
    const fee =
      parent.header.height === 0
        ? params.initialBaseFee
        : nextBaseFee(params, parent.header.baseFeePerToken, parent.header.shareCount);
    if (header.baseFeePerToken !== fee)
      return refused(`${at} charges ${header.baseFeePerToken} a token; the fee rule gives ${fee}`);
    const leader = leaderCheck(block, params);
    if (leader !== undefined) return refused(`${at}: ${leader}`);
    if (block.shares.length !== header.shareCount)
      return refused(`${at} holds ${block.shares.length} shares, its header counts ${header.shareCount}`);
    const carried = new Map(block.receipts.map((r) => [receiptHashOf(r.payload).toString('hex'), r]));
    for (const blockShare of block.shares) {
      let share;
      try {
        share = openShare(blockShare.payload);
      } catch (error) {
        if (error instanceof RecordFormatError) return refused(`${at}: ${error.message}`);
        throw error;
      }
      const shareHash = shareHashOf(blockShare.payload).toString('hex');
      if (!statements.has(blockShare.statement)) {
        try {
          statements.set(blockShare.statement, {
            opened: openSignedStatement(blockShare.statement),
            signer: statementSigner(blockShare.statement),
          });
        } catch (error) {
          if (!(error instanceof RecordFormatError)) throw error;
          statements.set(blockShare.statement, undefined);
        }
      }
      const statement = statements.get(blockShare.statement);
      if (statement === undefined) return refused(`${at}: share ${shareHash} has a malformed statement`);
      const notCovered = uncovered(statement.opened, share.nodeId, shareHash);
      if (notCovered !== undefined) return refused(`${at}: ${notCovered.message}`);
      if (statement.signer === undefined || !context.shareKeysOf(share.nodeId).has(statement.signer))
        return refused(`${at}: share ${shareHash} is not signed by a share key node ${share.nodeId} registered`);
      const signedReceipt = carried.get(share.receiptHash);
      if (signedReceipt === undefined)
        return refused(`${at}: share ${shareHash} references a receipt the block does not carry`);
      if (!receipts.has(share.receiptHash)) {
        try {
          const receipt = verifyReceipt(signedReceipt);
          receipts.set(share.receiptHash, { receipt, client: clientAddressOf(receipt) });
        } catch (error) {
          if (!(error instanceof RecordFormatError)) throw error;
          receipts.set(share.receiptHash, undefined);
        }
      }
      const backing = receipts.get(share.receiptHash);
      if (backing === undefined) return refused(`${at}: receipt ${share.receiptHash} is not signed by its client`);
      const { receipt, client } = backing;
      if (receipt.sessionHash !== share.sessionHash)
        return refused(`${at}: share ${shareHash} is of another session than its receipt`);
      if (receipt.route[share.shardIndex] !== share.nodeId)
        return refused(
          `${at}: share ${shareHash} is of ${share.nodeId}; its receipt pays ${receipt.route[share.shardIndex]} for hop ${share.shardIndex} of its route`,
        );
      // share.shardIndex is the share's hop: its position in the receipt's route, not a shard of the model
      const key = `${share.sessionHash}/${share.shardIndex}`;
      const total = (claimed.get(key) ?? 0) + share.tokensProcessed;
      if (total > receipt.tokensPerShard[share.shardIndex]!)
        return refused(
          `${at}: session ${share.sessionHash.slice(0, 16)}… hop ${share.shardIndex} claims ${total} tokens; its receipt allows ${receipt.tokensPerShard[share.shardIndex]}`,
        );
      claimed.set(key, total);
      rows.push({
        client,
        nodeId: share.nodeId,
        shares: 1,
        tokens: share.tokensProcessed,
        baseFee: header.baseFeePerToken,
      });
    }
  }
  const lastBlock = blocks.at(-1)!;
  return { status: 'checked', summary: makeSummary(window, range, hex(lastBlock.hash), rows), genesis, lastBlock };

  function leaderCheck(block: Block, chainParams: ChainParams): string | undefined {
    let roster;
    try {
      roster = openRoster(block.roster);
    } catch (error) {
      if (error instanceof RecordFormatError) return `its roster: ${error.message}`;
      throw error;
    }
    if (hex(roster.hash) !== block.header.rosterHash) return 'its roster is not the one its header names';
    const signer = rosterSigner(block.roster);
    if (signer === undefined || !context.authorities.has(signer))
      return `its roster is signed by ${signer ?? 'nobody'}, not by a registry key of this cluster`;
    const epoch = epochOf(block.header.slot, chainParams);
    if (roster.roster.epoch !== epoch)
      return `its roster is of epoch ${roster.roster.epoch}, its slot of epoch ${epoch}`;
    const leader = leaderOf(block.header.slot, roster);
    return leader === block.header.producer
      ? undefined
      : `its producer ${block.header.producer} does not lead slot ${block.header.slot} (${leader} does)`;
  }
}
