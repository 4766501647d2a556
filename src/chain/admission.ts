import type { Chain, VerifiedShare } from './chain.ts';
import { shareKeyAddress, type Member, type Membership } from './membership.ts';
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
  type ShareBatch,
} from '../protocol/share-batch.ts';
import type { NewReceipt, NewStatement } from './store.ts';

/** The proto's ShareRejection names. */
export type Rejection =
  | 'SHARE_MALFORMED'
  | 'SHARE_BAD_SIGNATURE'
  | 'SHARE_WRONG_KEY'
  | 'SHARE_UNKNOWN_NODE'
  | 'SHARE_EVICTED_NODE'
  | 'SHARE_WRONG_SHARD'
  | 'SHARE_NO_RECEIPT'
  | 'SHARE_BAD_RECEIPT'
  | 'SHARE_RECEIPT_MISMATCH'
  | 'SHARE_OVER_RECEIPT'
  | 'SHARE_DUPLICATE'
  | 'SHARE_NOT_LISTED'
  | 'SHARE_NOT_ON_ROUTE';

export interface Verdict {
  readonly shareHash: Buffer;
  readonly accepted: boolean;
  readonly rejection?: Rejection;
  readonly message: string;
}

interface Refusal {
  readonly rejection: Rejection;
  readonly message: string;
}

/** The registry could not be asked who the nodes are: nothing was accepted, the caller may retry. */
export class MembershipUnavailableError extends Error {}

/** A receipt as a batch of shares references it: parsed, with its row for the store. */
interface ReceiptInfo {
  readonly receipt: UsageReceipt;
  readonly row: NewReceipt;
  readonly signed: SignedRecord;
  /** Held already (checked when it was first accepted), so its signature needs no new check. */
  readonly held: boolean;
}

/** A batch's statement, parsed, with its row for the store. */
interface StatementInfo {
  readonly opened: OpenedStatement;
  readonly row: NewStatement;
}

/** A share whose form and statement coverage passed, waiting for the checks that need the registry. */
interface Candidate {
  readonly index: number;
  readonly payload: Uint8Array;
  readonly hash: Buffer;
  readonly share: Share;
  readonly statement: StatementInfo;
}

/** A candidate whose node and receipt passed, waiting for the signatures. */
interface Checked extends Candidate {
  readonly member: Member;
  readonly receipt: ReceiptInfo;
}

const refuse = (shareHash: Buffer, rejection: Rejection, message: string): Verdict => ({
  shareHash,
  accepted: false,
  rejection,
  message,
});
const isRefusal = (value: object): value is Refusal => 'rejection' in value;

/** The statement of a batch, or why none of its shares can count. */
function statementOf(signed: SignedRecord): StatementInfo | Refusal {
  try {
    const opened = openSignedStatement(signed);
    return { opened, row: { hash: opened.hash, payload: signed.payload, signature: signed.signature } };
  } catch (error) {
    if (!(error instanceof RecordFormatError)) throw error;
    return { rejection: 'SHARE_MALFORMED', message: error.message };
  }
}

/** The share a payload holds when it is well formed and its batch's statement covers it. */
function shareIn(payload: Uint8Array, key: string, statement: StatementInfo): Share | Refusal {
  let share: Share;
  try {
    share = openShare(payload);
  } catch (error) {
    if (!(error instanceof RecordFormatError)) throw error;
    return { rejection: 'SHARE_MALFORMED', message: error.message };
  }
  const notCovered = uncovered(statement.opened, share.nodeId, key);
  if (notCovered !== undefined)
    return { rejection: notCovered.otherNode ? 'SHARE_WRONG_KEY' : 'SHARE_NOT_LISTED', message: notCovered.message };
  return share;
}

/**
 * Why the registry's record of the share's node refuses it, if it does. Its held span is not
 * compared with the share's position: a node serves any position of a route over spans, and the
 * receipt naming it at that position is what binds the share (verifiedShare).
 */
function memberRefusal(share: Share, member: Member | undefined): Refusal | undefined {
  if (member === undefined || member.role !== 'node') {
    return {
      rejection: 'SHARE_UNKNOWN_NODE',
      message:
        member === undefined
          ? `node ${share.nodeId} is not registered`
          : `${share.nodeId} is registered as a ${member.role}, not a compute node`,
    };
  }
  if (member.status !== 'live')
    return {
      rejection: 'SHARE_EVICTED_NODE',
      message: `node ${share.nodeId} is evicted; it must register again before its shares count`,
    };
  return undefined;
}

/** The share as the chain commits it, or why its receipt does not back it. */
function verifiedShare(c: Checked): VerifiedShare | Refusal {
  const { share, member, receipt, statement } = c;
  const r = receipt.receipt;
  if (r.sessionHash !== share.sessionHash) {
    return {
      rejection: 'SHARE_RECEIPT_MISMATCH',
      message: `receipt ${share.receiptHash} is for session ${r.sessionHash.slice(0, 16)}…, the share for ${share.sessionHash.slice(0, 16)}…`,
    };
  }
  if (r.modelId !== member.modelId)
    return {
      rejection: 'SHARE_WRONG_SHARD',
      message: `receipt is for model "${r.modelId}"; node ${share.nodeId} serves "${member.modelId}"`,
    };
  // A share's shardIndex is its node's position in the receipt's route (its hop), not a shard.
  if (share.shardIndex >= r.tokensPerShard.length) {
    return {
      rejection: 'SHARE_RECEIPT_MISMATCH',
      message: `receipt counts ${r.tokensPerShard.length} hops, none at position ${share.shardIndex}`,
    };
  }
  if (r.route[share.shardIndex] !== share.nodeId)
    return {
      rejection: 'SHARE_NOT_ON_ROUTE',
      message: `receipt ${share.receiptHash} pays ${r.route[share.shardIndex]} for hop ${share.shardIndex} of its route, not ${share.nodeId}`,
    };
  return {
    share: {
      hash: c.hash,
      payload: c.payload,
      statement: statement.row.hash,
      nodeId: share.nodeId,
      shardIndex: share.shardIndex,
      sessionHash: share.sessionHash,
      receiptHash: receipt.row.hash,
      tokens: share.tokensProcessed,
    },
    receipt: receipt.row,
    statement: statement.row,
    cap: r.tokensPerShard[share.shardIndex]!,
  };
}

type Commit = {
  readonly items: VerifiedShare[];
  readonly resolve: (refusals: ReturnType<Chain['commitShares']>) => void;
  readonly reject: (error: Error) => void;
};

/**
 * SubmitShares: checks each batch's statement once (its signature against the share key its node
 * registered) and each share (form, listed in its statement, the node's admission, its receipt,
 * duplicates) and commits the good ones: while one commit is being synced to disk, the next
 * requests' shares gather for one transaction. A verdict says accepted only once its share is on disk.
 */
export class ShareAdmission {
  #waiting: Commit[] = [];
  #scheduled = false;
  #syncing = false;

  constructor(
    private readonly chain: Chain,
    private readonly membership: Membership,
    private readonly pool: SignaturePool,
    /** Takes the node's per-key rate token (throws RATE_LIMITED); called once its batch signature is checked. */
    private readonly takeKey?: (nodeId: string) => void,
  ) {}

  /** One verdict per share, in order: the first batch's shares, then the second's, ... */
  async submit(batches: readonly ShareBatch[], receipts: readonly SignedRecord[]): Promise<Verdict[]> {
    const payloads = batches.flatMap((b) => b.shares);
    const verdicts = new Array<Verdict | undefined>(payloads.length);
    const hashes = payloads.map(shareHashOf);
    const seen = new Set<string>();
    const candidates: Candidate[] = [];
    let index = 0;
    for (const batch of batches) {
      const statement = statementOf(batch.statement);
      for (const payload of batch.shares) {
        const i = index++;
        const hash = hashes[i]!;
        const key = hash.toString('hex');
        // A share accepted before is found a duplicate when it is committed.
        const share = seen.has(key)
          ? { rejection: 'SHARE_DUPLICATE' as const, message: `share ${key} is sent twice in this request` }
          : isRefusal(statement)
            ? statement
            : shareIn(payload, key, statement);
        seen.add(key);
        if (isRefusal(share)) verdicts[i] = refuse(hash, share.rejection, share.message);
        else candidates.push({ index: i, payload, hash, share, statement: statement as StatementInfo });
      }
    }

    let members: Map<string, Member>;
    try {
      members = await this.membership.lookup([...new Set(candidates.map((c) => c.statement.opened.nodeId))]);
    } catch (error) {
      throw new MembershipUnavailableError(
        `cannot ask the registry who the nodes are: ${(error as { details?: string }).details || (error as Error).message}; nothing was accepted, retry`,
      );
    }
    const sentReceipts = new Map<string, SignedRecord>(
      receipts.map((r) => [receiptHashOf(r.payload).toString('hex'), r]),
    );
    const receiptInfos = new Map<string, ReceiptInfo | Refusal>();
    const checked: Checked[] = [];
    for (const c of candidates) {
      const member = members.get(c.share.nodeId);
      let refusal = memberRefusal(c.share, member);
      if (refusal === undefined) {
        let receipt = receiptInfos.get(c.share.receiptHash);
        if (receipt === undefined)
          receiptInfos.set(
            c.share.receiptHash,
            (receipt = this.#receipt(c.share.receiptHash, sentReceipts.get(c.share.receiptHash))),
          );
        if (isRefusal(receipt)) refusal = receipt;
        else checked.push({ ...c, member: member!, receipt });
      }
      if (refusal !== undefined) verdicts[c.index] = refuse(c.hash, refusal.rejection, refusal.message);
    }

    // One pool call: each statement that still has shares to vouch for, and each receipt not checked before.
    const statements = [...new Set(checked.map((c) => c.statement))];
    const referenced = new Set(checked.map((c) => c.receipt));
    const newReceipts = [...receiptInfos.values()].filter(
      (r): r is ReceiptInfo => !isRefusal(r) && !r.held && referenced.has(r),
    );
    const ok = await this.pool.verify([
      ...statements.map((s) => ({
        domain: SHARE_BATCH_DOMAIN,
        payload: s.row.hash,
        signature: s.row.signature,
        signer: shareKeyAddress(members.get(s.opened.nodeId)!),
      })),
      ...newReceipts.map((r) => ({
        domain: RECEIPT_DOMAIN,
        payload: r.signed.payload,
        signature: r.signed.signature,
        signer: r.row.client,
      })),
    ]);
    const badStatements = new Map<StatementInfo, Refusal>();
    statements.forEach((s, i) => {
      if (ok[i]) return;
      const signer = statementSigner(s.opened.signed);
      badStatements.set(
        s,
        signer === undefined
          ? {
              rejection: 'SHARE_BAD_SIGNATURE',
              message: 'share batch signature is malformed or does not recover a key',
            }
          : {
              rejection: 'SHARE_WRONG_KEY',
              message: `share batch is signed by ${signer}, not by the share key node ${s.opened.nodeId} registered`,
            },
      );
    });
    const badReceipts = new Set(newReceipts.filter((_, i) => !ok[statements.length + i]));
    const verified: { candidate: Candidate; item: VerifiedShare }[] = [];
    for (const c of checked) {
      const item =
        badStatements.get(c.statement) ??
        (badReceipts.has(c.receipt)
          ? {
              rejection: 'SHARE_BAD_RECEIPT' as const,
              message: `receipt ${c.share.receiptHash} is not signed by its client ${c.receipt.row.client}`,
            }
          : verifiedShare(c));
      if (isRefusal(item)) verdicts[c.index] = refuse(c.hash, item.rejection, item.message);
      else verified.push({ candidate: c, item });
    }

    // Once per call per node whose signature verified, before anything is committed; shares the
    // daemon holds already are not charged, so a replay of a node's public shares cannot spend its bucket.
    const charged = new Set(
      verified
        .filter((v) => this.chain.store.shareState(v.candidate.hash) === undefined)
        .map((v) => v.candidate.share.nodeId),
    );
    for (const nodeId of charged) this.takeKey?.(nodeId);

    const refusals = await this.#commit(verified.map((v) => v.item));
    verified.forEach(({ candidate }, i) => {
      const refusal = refusals[i];
      verdicts[candidate.index] =
        refusal === undefined
          ? { shareHash: candidate.hash, accepted: true, message: '' }
          : refuse(candidate.hash, refusal.rejection, refusal.message);
    });
    return verdicts as Verdict[];
  }

  /** The receipt with this hash, from the batch or the store, or why there is none usable. */
  #receipt(hash: string, sent: SignedRecord | undefined): ReceiptInfo | Refusal {
    const held = this.chain.store.receipt(Buffer.from(hash, 'hex'));
    if (held !== undefined) {
      return { receipt: openReceipt(held.payload), row: held, signed: held, held: true };
    }
    if (sent === undefined)
      return {
        rejection: 'SHARE_NO_RECEIPT',
        message: `no receipt ${hash}: send it with the shares that reference it`,
      };
    try {
      const receipt = openReceipt(sent.payload);
      const row: NewReceipt = {
        hash: Buffer.from(hash, 'hex'),
        payload: sent.payload,
        signature: sent.signature,
        sessionHash: receipt.sessionHash,
        modelId: receipt.modelId,
        client: clientAddressOf(receipt),
        tokensPerShard: JSON.stringify(receipt.tokensPerShard),
      };
      return { receipt, row, signed: sent, held: false };
    } catch (error) {
      if (!(error instanceof RecordFormatError)) throw error;
      return { rejection: 'SHARE_BAD_RECEIPT', message: `receipt ${hash}: ${error.message}` };
    }
  }

  /** Resolves once the items are committed and on disk, with the chain's refusals. */
  #commit(items: VerifiedShare[]): Promise<ReturnType<Chain['commitShares']>> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ items, resolve, reject });
      this.#schedule();
    });
  }

  /** A commit runs once the current tick's requests are checked, and never while the last one is being synced. */
  #schedule(): void {
    if (this.#scheduled || this.#syncing || this.#waiting.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  /** Commits everything waiting in one transaction, then syncs it, answering each request once it is on disk. */
  #flush(): void {
    const commits = this.#waiting;
    this.#waiting = [];
    let refusals: ReturnType<Chain['commitShares']>;
    try {
      refusals = this.chain.commitShares(commits.flatMap((c) => c.items));
    } catch (error) {
      for (const c of commits) c.reject(error as Error);
      return;
    }
    this.#syncing = true;
    this.chain.store
      .sync()
      .then(
        () => {
          let offset = 0;
          for (const c of commits) {
            c.resolve(refusals.slice(offset, offset + c.items.length));
            offset += c.items.length;
          }
        },
        (error: Error) => {
          for (const c of commits)
            c.reject(new Error(`the shares were committed but could not be synced to disk: ${error.message}`));
        },
      )
      .finally(() => {
        this.#syncing = false;
        this.#schedule();
      });
  }
}
