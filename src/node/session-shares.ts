import { bytesToHex } from '@noble/hashes/utils.js';
import { receiptHashOf, verifyReceipt } from '../protocol/receipt.ts';
import { RecordFormatError, type SignedRecord } from '../protocol/record.ts';
import { encodeShare, sessionHashOf } from '../protocol/share.ts';
import type { KeyPair } from '../crypto/keys.ts';
import { ForwardReason, NodeStatusError } from '../protocol/forward-status.ts';

/**
 * The compute shares one session earns on this node: one per forward step (its positions), made once
 * the client's usage receipt covers it (the share submitter signs them, a batch at a time). Steps the
 * client never attests earn nothing. The node is counted by its hop's position in the route: the
 * receipt's `route[position]` and `tokensPerShard[position]`, and the share's `shardIndex`.
 */
export class SessionShares {
  readonly #sessionHash: string;
  /** Steps not yet turned into shares: positions and when the step finished. */
  readonly #steps: { tokens: number; timestampMs: number }[] = [];
  /** Tokens already claimed by shares of this session. */
  #claimed = 0;
  #lastTimestamp = 0;

  constructor(
    private readonly key: KeyPair,
    /** The node's hop in the session's route. */
    private readonly position: number,
    private readonly modelId: string,
    sessionId: string,
    /** The client key the session was opened with (hex), or '' when it named none. */
    private readonly clientKey: string,
  ) {
    this.#sessionHash = sessionHashOf(sessionId);
  }

  /** A finished forward step of `tokens` positions. */
  record(tokens: number): void {
    // Distinct timestamps keep two equal steps of one session from being the same share.
    this.#lastTimestamp = Math.max(Date.now(), this.#lastTimestamp + 1);
    this.#steps.push({ tokens, timestampMs: this.#lastTimestamp });
  }

  /**
   * Checks the client's receipt for this session and makes a share (its payload) for each recorded
   * step it covers, in order. Steps beyond its count wait for a later receipt.
   */
  attest(signed: SignedRecord): Uint8Array[] {
    let receipt;
    try {
      receipt = verifyReceipt(signed);
    } catch (error) {
      if (error instanceof RecordFormatError)
        throw new NodeStatusError(ForwardReason.INVALID_USAGE_RECEIPT, 'invalid', `usage receipt: ${error.message}`);
      throw error;
    }
    if (receipt.sessionHash !== this.#sessionHash)
      throw new NodeStatusError(ForwardReason.INVALID_USAGE_RECEIPT, 'invalid', 'usage receipt is for another session');
    if (receipt.modelId !== this.modelId)
      throw new NodeStatusError(
        ForwardReason.INVALID_USAGE_RECEIPT,
        'invalid',
        `usage receipt is for model "${receipt.modelId}", the session for "${this.modelId}"`,
      );
    if (this.clientKey !== '' && receipt.clientKey !== this.clientKey)
      throw new NodeStatusError(
        ForwardReason.INVALID_USAGE_RECEIPT,
        'invalid',
        'usage receipt is signed by another key than the session was opened with',
      );
    const allowed = receipt.tokensPerShard[this.position];
    if (allowed === undefined)
      throw new NodeStatusError(
        ForwardReason.INVALID_USAGE_RECEIPT,
        'invalid',
        `usage receipt counts ${receipt.tokensPerShard.length} hops, none for hop ${this.position} of the route`,
      );
    if (receipt.route[this.position] !== this.key.address)
      throw new NodeStatusError(
        ForwardReason.INVALID_USAGE_RECEIPT,
        'invalid',
        `usage receipt pays ${receipt.route[this.position]} for hop ${this.position} of the route, not this node ${this.key.address}`,
      );
    const receiptHash = receiptHashOf(signed.payload).toString('hex');
    const shares: Uint8Array[] = [];
    while (this.#steps.length > 0 && this.#claimed + this.#steps[0]!.tokens <= allowed) {
      const step = this.#steps.shift()!;
      this.#claimed += step.tokens;
      shares.push(
        encodeShare({
          nodeId: this.key.address,
          shardIndex: this.position,
          tokensProcessed: step.tokens,
          timestampMs: step.timestampMs,
          sessionHash: this.#sessionHash,
          receiptHash,
        }),
      );
    }
    return shares;
  }
}

export const clientKeyHex = (key: Uint8Array): string => (key.length === 0 ? '' : bytesToHex(key));
