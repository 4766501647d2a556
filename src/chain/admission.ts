import { hexToBytes } from '@noble/hashes/utils.js';
import type { Chain, VerifiedShare } from './chain.ts';
import type { Member, Membership } from './membership.ts';
import { clientAddressOf, openReceipt, RECEIPT_DOMAIN, receiptHashOf, type UsageReceipt } from './receipt.ts';
import { RecordFormatError, type SignedRecord } from './record.ts';
import { openShare, SHARE_DOMAIN, shareHashOf, shareSigner, type Share } from './share.ts';
import type { SignaturePool } from './signature-pool.ts';
import { ShareState, type NewReceipt } from './store.ts';

/** The proto's ShareRejection names. */
export type Rejection =
  | 'SHARE_MALFORMED' | 'SHARE_BAD_SIGNATURE' | 'SHARE_WRONG_KEY' | 'SHARE_UNKNOWN_NODE' | 'SHARE_EVICTED_NODE' | 'SHARE_WRONG_SHARD'
  | 'SHARE_NO_RECEIPT' | 'SHARE_BAD_RECEIPT' | 'SHARE_RECEIPT_MISMATCH' | 'SHARE_OVER_RECEIPT' | 'SHARE_DUPLICATE';

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

interface Candidate {
  readonly index: number;
  readonly signed: SignedRecord;
  readonly hash: Buffer;
  readonly share: Share;
  member?: Member;
  receipt?: ReceiptInfo;
}

const refuse = (shareHash: Buffer, rejection: Rejection, message: string): Verdict => ({ shareHash, accepted: false, rejection, message });

/**
 * SubmitShares: checks each share of a batch (form, duplicates, the node's admission, its receipt,
 * signatures) and commits the good ones, several batches per transaction when they arrive together.
 * A verdict says accepted only after its share is committed.
 */
export class ShareAdmission {
  #queue: { items: VerifiedShare[]; resolve: (refusals: ReturnType<Chain['commitShares']>) => void; reject: (error: Error) => void }[] = [];

  constructor(private readonly chain: Chain, private readonly membership: Membership, private readonly pool: SignaturePool) {}

  async submit(shares: readonly SignedRecord[], receipts: readonly SignedRecord[]): Promise<Verdict[]> {
    const store = this.chain.store;
    const verdicts = new Array<Verdict | undefined>(shares.length);
    const candidates: Candidate[] = [];
    const seen = new Set<string>();
    const hashes = shares.map((signed) => shareHashOf(signed.payload));
    const held = store.shareStates(hashes);
    shares.forEach((signed, index) => {
      const hash = hashes[index]!;
      const key = hash.toString('hex');
      if (seen.has(key)) return (verdicts[index] = refuse(hash, 'SHARE_DUPLICATE', `share ${key} is sent twice in this batch`));
      seen.add(key);
      let share: Share;
      try {
        share = openShare(signed.payload);
      } catch (error) {
        if (!(error instanceof RecordFormatError)) throw error;
        return (verdicts[index] = refuse(hash, 'SHARE_MALFORMED', error.message));
      }
      const state = held.get(key);
      if (state === ShareState.Pending || state === ShareState.Chain) {
        return (verdicts[index] = refuse(hash, 'SHARE_DUPLICATE', `share ${key} was already accepted${state === ShareState.Chain ? ' and is in a block' : ''}`));
      }
      candidates.push({ index, signed, hash, share });
    });

    let members: Map<string, Member>;
    try {
      members = await this.membership.lookup(candidates.map((c) => c.share.nodeId));
    } catch (error) {
      throw new MembershipUnavailableError(`cannot ask the registry who the nodes are: ${(error as { details?: string }).details || (error as Error).message}; nothing was accepted, retry`);
    }
    const sentReceipts = new Map<string, SignedRecord>(receipts.map((r) => [receiptHashOf(r.payload).toString('hex'), r]));
    const receiptInfos = new Map<string, ReceiptInfo | Refusal>();
    const receiptFor = (hash: string): ReceiptInfo | Refusal => {
      let info = receiptInfos.get(hash);
      if (info === undefined) {
        info = this.#receipt(hash, sentReceipts.get(hash));
        receiptInfos.set(hash, info);
      }
      return info;
    };
    const checked: Candidate[] = [];
    for (const c of candidates) {
      const { share } = c;
      const member = members.get(share.nodeId);
      const reject = (rejection: Rejection, message: string) => (verdicts[c.index] = refuse(c.hash, rejection, message));
      if (member === undefined || member.role !== 'node') {
        reject('SHARE_UNKNOWN_NODE', member === undefined ? `node ${share.nodeId} is not registered` : `${share.nodeId} is registered as a ${member.role}, not a compute node`);
        continue;
      }
      if (member.status !== 'live') {
        reject('SHARE_EVICTED_NODE', `node ${share.nodeId} is evicted; it must register again before its shares count`);
        continue;
      }
      if (member.shardIndex !== share.shardIndex) {
        reject('SHARE_WRONG_SHARD', `node ${share.nodeId} serves shard ${member.shardIndex} of "${member.modelId}", not shard ${share.shardIndex}`);
        continue;
      }
      const receipt = receiptFor(share.receiptHash);
      if ('rejection' in receipt) {
        reject(receipt.rejection, receipt.message);
        continue;
      }
      checked.push(Object.assign(c, { member, receipt }));
    }

    // One pool call for every share signature and every receipt signature not checked before.
    const referenced = new Set(checked.map((c) => c.receipt));
    const newReceipts = [...receiptInfos.values()].filter((r): r is ReceiptInfo => !('rejection' in r) && !r.held && referenced.has(r));
    const keys = new Map<string, Uint8Array>();
    const keyOf = (hex: string) => keys.get(hex) ?? keys.set(hex, hexToBytes(hex)).get(hex)!;
    const ok = await this.pool.verify([
      ...checked.map((c) => ({ domain: SHARE_DOMAIN, payload: c.signed.payload, signature: c.signed.signature, publicKey: keyOf(c.member!.shareKey) })),
      ...newReceipts.map((r) => ({ domain: RECEIPT_DOMAIN, payload: r.signed.payload, signature: r.signed.signature, publicKey: hexToBytes(r.receipt.clientKey) })),
    ]);
    const badReceipts = new Set(newReceipts.filter((_, i) => !ok[checked.length + i]));
    const verified: { candidate: Candidate; item: VerifiedShare }[] = [];
    checked.forEach((c, i) => {
      const { share, member, receipt } = c as Required<Candidate>;
      const reject = (rejection: Rejection, message: string) => (verdicts[c.index] = refuse(c.hash, rejection, message));
      if (!ok[i]) {
        const signer = shareSigner(c.signed);
        if (signer === undefined) return reject('SHARE_BAD_SIGNATURE', `share signature is malformed or does not recover a key`);
        return reject('SHARE_WRONG_KEY', `share is signed by ${signer}, not by the share key node ${share.nodeId} registered`);
      }
      if (badReceipts.has(receipt)) return reject('SHARE_BAD_RECEIPT', `receipt ${share.receiptHash} is not signed by its client ${receipt.row.client}`);
      const r = receipt.receipt;
      if (r.sessionHash !== share.sessionHash) return reject('SHARE_RECEIPT_MISMATCH', `receipt ${share.receiptHash} is for session ${r.sessionHash.slice(0, 16)}…, the share for ${share.sessionHash.slice(0, 16)}…`);
      if (r.modelId !== member.modelId) return reject('SHARE_WRONG_SHARD', `receipt is for model "${r.modelId}"; node ${share.nodeId} serves "${member.modelId}"`);
      if (share.shardIndex >= r.tokensPerShard.length) return reject('SHARE_RECEIPT_MISMATCH', `receipt counts ${r.tokensPerShard.length} shards, none for shard ${share.shardIndex}`);
      verified.push({
        candidate: c,
        item: {
          share: {
            hash: c.hash, payload: c.signed.payload, signature: c.signed.signature, nodeId: share.nodeId, shardIndex: share.shardIndex,
            sessionHash: share.sessionHash, receiptHash: Buffer.from(share.receiptHash, 'hex'), tokens: share.tokensProcessed, weight: share.weight,
          },
          receipt: receipt.row,
          cap: r.tokensPerShard[share.shardIndex]!,
        },
      });
    });

    const refusals = await this.#commit(verified.map((v) => v.item));
    verified.forEach(({ candidate }, i) => {
      const refusal = refusals[i];
      verdicts[candidate.index] = refusal === undefined ? { shareHash: candidate.hash, accepted: true, message: '' } : refuse(candidate.hash, refusal.rejection, refusal.message);
    });
    return verdicts as Verdict[];
  }

  /** The receipt with this hash, from the batch or the store, or why there is none usable. */
  #receipt(hash: string, sent: SignedRecord | undefined): ReceiptInfo | Refusal {
    const held = this.chain.store.receipt(Buffer.from(hash, 'hex'));
    if (held !== undefined) {
      return { receipt: openReceipt(held.payload), row: held, signed: held, held: true };
    }
    if (sent === undefined) return { rejection: 'SHARE_NO_RECEIPT', message: `no receipt ${hash}: send it with the shares that reference it` };
    try {
      const receipt = openReceipt(sent.payload);
      const row: NewReceipt = {
        hash: Buffer.from(hash, 'hex'), payload: sent.payload, signature: sent.signature, sessionHash: receipt.sessionHash, modelId: receipt.modelId,
        client: clientAddressOf(receipt), tokensPerShard: JSON.stringify(receipt.tokensPerShard),
      };
      return { receipt, row, signed: sent, held: false };
    } catch (error) {
      if (!(error instanceof RecordFormatError)) throw error;
      return { rejection: 'SHARE_BAD_RECEIPT', message: `receipt ${hash}: ${error.message}` };
    }
  }

  /** Commits with whatever else is waiting: one transaction (one fsync) for all of them. */
  #commit(items: VerifiedShare[]): Promise<ReturnType<Chain['commitShares']>> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      if (this.#queue.length === 0) setImmediate(() => this.#flush());
      this.#queue.push({ items, resolve, reject });
    });
  }

  #flush(): void {
    const queue = this.#queue;
    this.#queue = [];
    try {
      const refusals = this.chain.commitShares(queue.flatMap((q) => q.items));
      let offset = 0;
      for (const q of queue) {
        q.resolve(refusals.slice(offset, offset + q.items.length));
        offset += q.items.length;
      }
    } catch (error) {
      for (const q of queue) q.reject(error as Error);
    }
  }
}
