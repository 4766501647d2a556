import { hex, sha256 } from '../crypto/hash.ts';
import type { KeyPair } from '../crypto/keys.ts';
import {
  genesisBlock,
  openHeader,
  setRootOf,
  sharesRootOf,
  signHeader,
  type Block,
  type BlockHeader,
} from './block.ts';
import { nextBaseFee } from './fee.ts';
import { epochOf, slotOf, targetShares, type ChainParams } from './params.ts';
import { leaderOf, openRoster, type OpenedRoster } from './roster.ts';
import { type SignedRecord } from '../protocol/record.ts';
import {
  ShareState,
  type BlockRow,
  type ChainStore,
  type NewReceipt,
  type NewShare,
  type NewStatement,
  type ReceiptRow,
  type ShareClaim,
  type ShareRow,
  type StatementRow,
} from './store.ts';
import { makeSummary, windowRange, type SettlementSummary } from './summary.ts';

/** A share whose statement, node and receipt have been checked, and the receipt and statement behind it. */
export interface VerifiedShare {
  readonly share: NewShare;
  readonly receipt: NewReceipt;
  readonly statement: NewStatement;
  /** The tokens the receipt allows its session's hop at the share's position in the route. */
  readonly cap: number;
}

/** Why a share checked in isolation still cannot be accepted, given what the chain holds. */
export type CommitRefusal = { readonly rejection: 'SHARE_DUPLICATE' | 'SHARE_OVER_RECEIPT'; readonly message: string };

/** A block that breaks a rule of the chain: it and every block built on it are dropped. */
export class InvalidBlockError extends Error {
  constructor(
    readonly hash: Buffer,
    reason: string,
  ) {
    super(reason);
  }
}

export interface AdoptResult {
  /** Whether the canonical chain now ends at the tip. */
  readonly switched: boolean;
  /** Canonical blocks that left the chain (their shares went back to the pending pool). */
  readonly orphaned: number;
  readonly invalid?: string;
  /** Why a better chain was not taken though valid: it forks below the final blocks. */
  readonly refused?: string;
}

/**
 * The chain's rules over a ChainStore: accepting checked shares, producing blocks, applying a
 * better fork. Each operation is one SQLite transaction, so a crash leaves the chain before or
 * after it, never between: a share is pending or in exactly one canonical block.
 */
export class Chain {
  readonly genesis: Block;

  constructor(
    readonly store: ChainStore,
    readonly params: ChainParams,
  ) {
    this.genesis = genesisBlock(params);
    const stored = store.canonicalHash(0);
    if (stored === undefined) {
      store.transaction(() => {
        store.insertBlock(this.genesis, [], [], []);
        store.setCanonical(this.genesis.hash, 0);
      });
    } else if (!stored.equals(this.genesis.hash)) {
      const theirs = store.block(stored);
      const params = theirs === undefined ? 'unknown' : JSON.stringify(openHeader(theirs.header).params);
      throw new Error(
        `the database holds a chain with other parameters (${params}); this daemon runs ${JSON.stringify(this.params)}: use another database or the same parameters`,
      );
    }
  }

  head(): BlockRow {
    return this.store.block(this.store.canonicalHash(this.store.headHeight())!)!;
  }

  /** Whether a chain ending at (height, hash) beats the canonical one: higher, or as high with a lower hash. */
  beats(height: number, hash: Uint8Array): boolean {
    const head = this.head();
    return height > head.height || (height === head.height && Buffer.compare(Buffer.from(hash), head.hash) < 0);
  }

  /**
   * Commits checked shares as pending, refusing duplicates and shares beyond their receipts given
   * everything accepted so far. Entry i is undefined when share i was accepted.
   */
  commitShares(items: readonly VerifiedShare[]): (CommitRefusal | undefined)[] {
    const { store } = this;
    return store.transaction(() => {
      // Tokens claimed per session and route position, read once and written once per batch.
      const usage = new Map<string, { sessionHash: string; shardIndex: number; claimed: number; added: number }>();
      const receipts = new Set<string>();
      const statements = new Set<string>();
      const refusals = items.map(({ share, receipt, statement, cap }): CommitRefusal | undefined => {
        const inserted = store.insertShare(share, ShareState.Pending);
        const state = inserted ? ShareState.Pending : store.shareState(share.hash);
        if (!inserted && state !== ShareState.Side) {
          return {
            rejection: 'SHARE_DUPLICATE',
            message: `share ${hex(share.hash)} was already accepted${state === ShareState.Chain ? ' and is in a block' : ''}`,
          };
        }
        const key = `${share.sessionHash}/${share.shardIndex}`;
        let used = usage.get(key);
        if (used === undefined) {
          const totals = store.usage(share.sessionHash, share.shardIndex);
          used = {
            sessionHash: share.sessionHash,
            shardIndex: share.shardIndex,
            claimed: totals.chain + totals.pending,
            added: 0,
          };
          usage.set(key, used);
        }
        const claimed = used.claimed + used.added;
        if (claimed + share.tokens > cap) {
          if (inserted) store.deleteShare(share.hash);
          return {
            rejection: 'SHARE_OVER_RECEIPT',
            message: `session ${share.sessionHash.slice(0, 16)}… hop ${share.shardIndex}: ${claimed} tokens already claimed + ${share.tokens} exceeds the ${cap} the receipt allows`,
          };
        }
        if (!inserted) store.setShareState(share.hash, ShareState.Pending, null);
        used.added += share.tokens;
        const receiptKey = receipt.hash.toString('hex');
        if (!receipts.has(receiptKey)) {
          store.insertReceipt(receipt);
          receipts.add(receiptKey);
        }
        const statementKey = statement.hash.toString('hex');
        if (!statements.has(statementKey)) {
          store.insertStatement(statement);
          statements.add(statementKey);
        }
        return undefined;
      });
      for (const u of usage.values()) if (u.added > 0) store.addUsage(u.sessionHash, u.shardIndex, 0, u.added);
      return refusals;
    });
  }

  /**
   * Produces the block of the slot `timestampMs` falls in on top of the head, with pending shares
   * oldest first up to the block's capacity (skipping any that the chain's receipts no longer
   * cover), and makes it the head. `roster` must be the head's when the head is of the same epoch.
   * Undefined when the producer does not lead the slot under `roster`, when the head is already of
   * this slot or later, or when this store already signed a block for this slot or a later one (it
   * never signs two blocks for one slot, across restarts too).
   */
  produce(producer: KeyPair, timestampMs: number, roster: OpenedRoster): Block | undefined {
    const { store, params } = this;
    return store.transaction(() => {
      const head = this.head();
      const slot = slotOf(timestampMs, params);
      if (slot <= head.slot || slot <= store.lastSignedSlot()) return undefined;
      if (roster.roster.epoch !== epochOf(slot, params) || leaderOf(slot, roster) !== producer.address)
        return undefined;
      const headRoster = this.rosterHashOf(head);
      if (head.height > 0 && epochOf(head.slot, params) === epochOf(slot, params) && !roster.hash.equals(headRoster))
        throw new Error(
          `slot ${slot} is in the epoch of the head, whose roster is ${hex(headRoster)}: produce with it`,
        );
      const caps = new Map<string, number[]>();
      const receipts = new Map<string, ReceiptRow>();
      const claimed = new Map<string, number>();
      const chosen: ShareRow[] = [];
      for (const share of store.pendingShares(params.maxSharesPerBlock * 2)) {
        if (chosen.length === params.maxSharesPerBlock) break;
        const receiptKey = share.receiptHash.toString('hex');
        let cap = caps.get(receiptKey);
        if (cap === undefined) {
          const receipt = store.receipt(share.receiptHash)!;
          receipts.set(receiptKey, receipt);
          cap = JSON.parse(receipt.tokensPerShard) as number[];
          caps.set(receiptKey, cap);
        }
        const usageKey = `${share.sessionHash}/${share.shardIndex}`;
        const used = claimed.get(usageKey) ?? store.usage(share.sessionHash, share.shardIndex).chain;
        if (used + share.tokens > (cap[share.shardIndex] ?? 0)) continue;
        claimed.set(usageKey, used + share.tokens);
        chosen.push(share);
      }
      const usedReceipts = [...new Set(chosen.map((s) => s.receiptHash.toString('hex')))].map((k) => receipts.get(k)!);
      const usedStatements = [...new Set(chosen.map((s) => s.statement.toString('hex')))].map((k) =>
        store.statement(Buffer.from(k, 'hex'))!,
      );
      const header: BlockHeader = {
        version: 2,
        height: head.height + 1,
        parentHash: hex(head.hash),
        producer: producer.address,
        slot,
        timestampMs,
        shareCount: chosen.length,
        sharesRoot: sharesRootOf(chosen.map((s) => s.hash)),
        receiptsRoot: setRootOf(usedReceipts.map((r) => r.hash)),
        statementsRoot: setRootOf(usedStatements.map((r) => r.hash)),
        tokens: chosen.reduce((sum, s) => sum + s.tokens, 0),
        baseFeePerToken: this.#feeAfter(head),
        rosterHash: hex(roster.hash),
      };
      const signedHeader = signHeader(producer, header);
      const block: Block = {
        header,
        hash: sha256(signedHeader.payload),
        signedHeader,
        ...blockContents(chosen, usedReceipts, usedStatements),
        roster: roster.signed,
      };
      store.setLastSignedSlot(slot);
      store.insertRoster({ hash: roster.hash, epoch: roster.roster.epoch, ...roster.signed });
      store.insertBlock(block, chosen, usedReceipts, usedStatements);
      this.#apply(block.hash, chosen);
      return block;
    });
  }

  /** Stores a block whose contents were checked (signatures, roots, receipts, statements), its shares new here as side shares; the chain is unchanged. */
  storeBlock(
    block: Block,
    shares: readonly NewShare[],
    receipts: readonly NewReceipt[],
    statements: readonly NewStatement[],
  ): void {
    const { store } = this;
    store.transaction(() => {
      if (store.block(block.hash) !== undefined) return;
      const rosterHash = Buffer.from(block.header.rosterHash, 'hex');
      if (store.roster(rosterHash) === undefined)
        store.insertRoster({ hash: rosterHash, epoch: openRoster(block.roster).roster.epoch, ...block.roster });
      for (const share of shares) store.insertShare(share, ShareState.Side);
      store.insertBlock(block, shares, receipts, statements);
    });
  }

  /**
   * Makes the stored block `tip` the head when its chain beats the canonical one (fork choice: by
   * height, then lowest hash), unwinding canonical blocks down to the common ancestor (their shares
   * return to the pending pool) and applying the fork's blocks, each checked against the chain
   * state below it. A fork with an invalid block is dropped from that block on and the chain is
   * left as it was. A fork from below the final blocks (more than finalityDepth under the head) is
   * refused and dropped: what is final is never reorganized, however long the other chain.
   */
  adopt(tip: Uint8Array): AdoptResult {
    const { store } = this;
    const tipRow = store.block(tip);
    if (tipRow === undefined || tipRow.canonical === 1 || !this.beats(tipRow.height, tipRow.hash))
      return { switched: false, orphaned: 0 };
    const path: BlockRow[] = [];
    let row: BlockRow | undefined = tipRow;
    while (row !== undefined && row.canonical === 0) {
      path.push(row);
      row = store.block(row.parent);
    }
    if (row === undefined)
      throw new Error(`block ${hex(tip)} has ancestors this daemon does not hold; fetch them first`);
    const ancestorHeight = row.height;
    const depth = this.store.headHeight() - ancestorHeight;
    if (depth > this.params.finalityDepth) {
      store.transaction(() => store.deleteBlockAndDescendants(path.at(-1)!.hash));
      return {
        switched: false,
        orphaned: 0,
        refused: `reorg past finality: the chain of ${hex(tip)} forks at height ${ancestorHeight}, ${depth} blocks below the head; blocks ${this.params.finalityDepth} deep are final`,
      };
    }
    try {
      const orphaned = store.transaction(() => {
        let count = 0;
        for (let head = this.head(); head.height > ancestorHeight; head = this.head()) {
          this.#unapply(head);
          count++;
        }
        for (const block of path.reverse()) this.#apply(block.hash);
        return count;
      });
      return { switched: true, orphaned };
    } catch (error) {
      if (!(error instanceof InvalidBlockError)) throw error;
      store.transaction(() => store.deleteBlockAndDescendants(error.hash));
      return { switched: false, orphaned: 0, invalid: `block ${hex(error.hash)}: ${error.message}` };
    }
  }

  /** Applies a stored block on top of the head: the chain rules that depend on what lies below it. `shares`: its shares, when the caller has them at hand. */
  #apply(hash: Buffer, shares: readonly ShareClaim[] = this.store.blockShareClaims(hash)): void {
    const { store } = this;
    const block = store.block(hash)!;
    const parent = this.head();
    const invalid = (reason: string) => new InvalidBlockError(hash, reason);
    if (!block.parent.equals(parent.hash))
      throw invalid(`its parent ${hex(block.parent)} is not the head ${hex(parent.hash)}`);
    if (block.height !== parent.height + 1) throw invalid(`height ${block.height} after a parent at ${parent.height}`);
    if (block.slot <= parent.slot) throw invalid(`slot ${block.slot} is not after its parent's slot ${parent.slot}`);
    const epoch = epochOf(block.slot, this.params);
    if (parent.height > 0 && epochOf(parent.slot, this.params) === epoch) {
      const rosterHash = this.rosterHashOf(block);
      const parentRoster = this.rosterHashOf(parent);
      if (!rosterHash.equals(parentRoster))
        throw invalid(
          `its roster ${hex(rosterHash)} differs from its parent's ${hex(parentRoster)} in the same epoch ${epoch}: one roster per epoch along a chain`,
        );
    }
    const fee = this.#feeAfter(parent);
    if (block.baseFee !== fee) throw invalid(`base fee ${block.baseFee}, the fee rule gives ${fee}`);
    const caps = new Map(
      store.blockReceiptRows(hash).map((r) => [r.hash.toString('hex'), JSON.parse(r.tokensPerShard) as number[]]),
    );
    // Tokens per session and route position: on the chain below, added by this block, and of those, taken off the pending pool.
    const claims = new Map<
      string,
      { sessionHash: string; shardIndex: number; chain: number; added: number; fromPending: number }
    >();
    const seen = new Set<string>();
    for (const share of shares) {
      const shareKey = hex(share.hash);
      if (share.state === ShareState.Chain || seen.has(shareKey))
        throw invalid(`share ${shareKey} is already in the chain`);
      seen.add(shareKey);
      const cap = caps.get(share.receiptHash.toString('hex'))?.[share.shardIndex];
      if (cap === undefined) throw invalid(`share ${hex(share.hash)} references a receipt the block does not carry`);
      const key = `${share.sessionHash}/${share.shardIndex}`;
      let claim = claims.get(key);
      if (claim === undefined) {
        claim = {
          sessionHash: share.sessionHash,
          shardIndex: share.shardIndex,
          chain: store.usage(share.sessionHash, share.shardIndex).chain,
          added: 0,
          fromPending: 0,
        };
        claims.set(key, claim);
      }
      if (claim.chain + claim.added + share.tokens > cap)
        throw invalid(
          `share ${hex(share.hash)} takes session ${share.sessionHash.slice(0, 16)}… hop ${share.shardIndex} beyond the ${cap} tokens of its receipt`,
        );
      claim.added += share.tokens;
      if (share.state === ShareState.Pending) claim.fromPending += share.tokens;
    }
    for (const c of claims.values()) store.addUsage(c.sessionHash, c.shardIndex, c.added, -c.fromPending);
    store.setBlockShareStates(hash, ShareState.Chain, block.height);
    store.setCanonical(hash, block.height);
  }

  /** The base fee of a block built on `parent`; block 1 starts at the initial fee genesis holds. */
  #feeAfter(parent: BlockRow): number {
    return parent.height === 0 ? parent.baseFee : nextBaseFee(this.params, parent.baseFee, parent.shareCount);
  }

  /** Takes the head off the canonical chain; its shares wait for a block again. */
  #unapply(head: BlockRow): void {
    const { store } = this;
    const claims = new Map<string, { sessionHash: string; shardIndex: number; tokens: number }>();
    for (const share of store.blockShareClaims(head.hash)) {
      const key = `${share.sessionHash}/${share.shardIndex}`;
      const claim =
        claims.get(key) ??
        claims.set(key, { sessionHash: share.sessionHash, shardIndex: share.shardIndex, tokens: 0 }).get(key)!;
      claim.tokens += share.tokens;
    }
    for (const c of claims.values()) store.addUsage(c.sessionHash, c.shardIndex, -c.tokens, c.tokens);
    store.setBlockShareStates(head.hash, ShareState.Pending, null);
    store.unsetCanonical(head.hash, head.height);
  }

  /** The hash of the roster a stored block names (zeros for genesis). */
  rosterHashOf(row: BlockRow): Buffer {
    return Buffer.from(openHeader(row.header).rosterHash, 'hex');
  }

  /** The roster of the head, when the head is not genesis. */
  headRoster(): OpenedRoster | undefined {
    const head = this.head();
    if (head.height === 0) return undefined;
    const roster = this.store.roster(this.rosterHashOf(head))!;
    return openRoster({ payload: roster.payload, signature: roster.signature });
  }

  /** A stored block as it travels: header, roster, and (unless headers only) its shares, receipts and statements. */
  loadBlock(row: BlockRow, headersOnly = false): Block {
    const { store } = this;
    const rosterRow = row.height === 0 ? undefined : store.roster(this.rosterHashOf(row));
    const contents = headersOnly
      ? blockContents([], [], [])
      : blockContents(
          store.blockShareRows(row.hash),
          store.blockReceiptRows(row.hash),
          store.blockStatementRows(row.hash),
        );
    return {
      header: openHeader(row.header),
      hash: row.hash,
      signedHeader: { payload: row.header, signature: row.signature },
      ...contents,
      roster:
        rosterRow === undefined ? this.genesis.roster : { payload: rosterRow.payload, signature: rosterRow.signature },
    };
  }

  canonicalBlock(height: number): BlockRow | undefined {
    const hash = this.store.canonicalHash(height);
    return hash === undefined ? undefined : this.store.block(hash);
  }

  /** Canonical hashes from the head back to genesis, every one for the last ten, then doubling gaps. */
  locator(): Buffer[] {
    const hashes: Buffer[] = [];
    let step = 1;
    for (let height = this.store.headHeight(); height > 0; height -= step) {
      hashes.push(this.store.canonicalHash(height)!);
      if (hashes.length >= 10) step *= 2;
    }
    hashes.push(this.genesis.hash);
    return hashes;
  }

  /** The height of the first locator hash on the canonical chain (the fork point), or undefined. */
  forkPoint(locator: readonly Uint8Array[]): number | undefined {
    for (const hash of locator) {
      const row = this.store.block(hash);
      if (row?.canonical === 1) return row.height;
    }
    return undefined;
  }

  /** The base fee of the next block, and what it follows from. */
  feeEstimate(): { next: number; head: BlockRow; target: number; pending: number } {
    const head = this.head();
    return { next: this.#feeAfter(head), head, target: targetShares(this.params), pending: this.store.pendingCount() };
  }

  /** The summary of a settlement window whose blocks are all final; undefined until its last block is finalityDepth under the head. */
  summary(window: number): SettlementSummary | undefined {
    const range = windowRange(this.params, window);
    if (this.store.headHeight() - this.params.finalityDepth < range.toHeight) return undefined;
    return this.store.transaction(() =>
      makeSummary(
        window,
        range,
        hex(this.store.canonicalHash(range.toHeight)!),
        this.store.flowRows(range.fromHeight, range.toHeight),
      ),
    );
  }
}

/** A block's shares, receipts and statements as it travels, each share pointing at its statement. */
function blockContents(
  shares: readonly ShareRow[],
  receipts: readonly ReceiptRow[],
  statements: readonly StatementRow[],
): Pick<Block, 'shares' | 'receipts' | 'statements'> {
  const signed = new Map<string, SignedRecord>(
    statements.map((s) => [s.hash.toString('hex'), { payload: s.payload, signature: s.signature }]),
  );
  return {
    shares: shares.map((s) => ({ payload: s.payload, statement: signed.get(s.statement.toString('hex'))! })),
    receipts: receipts.map(({ payload, signature }) => ({ payload, signature })),
    statements: [...signed.values()],
  };
}
