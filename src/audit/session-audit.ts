import { status, type ServiceError } from '@grpc/grpc-js';
import type { KeyPair } from '../crypto/keys.ts';
import { reasonOf } from '../rpc/status.ts';
import type { AuditReveal } from '../proto/tessera/v1/AuditReveal.ts';
import type { AuditClient } from './audit-client.ts';
import { takesPrompt } from './prompt-shard.ts';
import type { SignedCommitment } from '../protocol/commitment.ts';
import {
  auditCommitmentOf,
  checkSamplingRate,
  DEFAULT_SAMPLING_RATE,
  isAudited,
  newAuditSecret,
} from '../protocol/audit-selection.ts';

/**
 * The client's side of commit-then-challenge for one session:
 *   1. put `commitment` in Open.auditCommitment;
 *   2. once the result of the step that started at position 0 (the prefill) is back and its
 *      commitment chain checks out, write `revealRequest()` on the same Forward stream (once; it
 *      gets no reply, and steps after it are no longer audited);
 *   3. optionally `requestAudits(...)` with that step's commitments, so that a ticket a node never
 *      submits stands at the registry as a refusal (shard 0's step is the client's own to check:
 *      src/client/shard-zero-check.ts).
 */
export class SessionAudit {
  readonly secret: Buffer;
  /** sha256(secret): what Open carries. */
  readonly commitment: Buffer;

  /** `rate`: the cluster's (DiscoverReply.auditSamplingRate). */
  constructor(
    readonly rate = DEFAULT_SAMPLING_RATE,
    secret: Uint8Array = newAuditSecret(),
  ) {
    checkSamplingRate(rate);
    this.secret = Buffer.from(secret);
    this.commitment = auditCommitmentOf(this.secret);
  }

  /** A Forward request (its `reveal` case). */
  revealRequest(): { reveal: AuditReveal } {
    return { reveal: { secret: this.secret } };
  }

  /**
   * The commitments of a step that the secret selects for audit (each draw covers the node's
   * signature). One whose signature is malformed is signed by no node, so nothing can be owed for it:
   * it is left out rather than costing the other hops their requests.
   */
  selected<C extends SignedCommitment>(commitments: readonly C[]): C[] {
    return commitments.filter((c) => {
      try {
        return isAudited(this.secret, c, this.rate);
      } catch (error) {
        if (error instanceof RangeError) return false;
        throw error;
      }
    });
  }
}

export interface AuditRequestOutcome {
  readonly nodeId: string;
  /** The commitment's span of shards [shardIndex, shardEnd). */
  readonly shardIndex: number;
  readonly shardEnd: number;
  /** Set when the registry refused the request: its message, and its machine-readable reason. */
  readonly error?: string;
  readonly reason?: string;
}

/**
 * Files the client's signed audit request for each selected commitment of a revealed step, but for
 * the one whose span starts at shard 0: its ticket would hold the prompt, so the client checks that
 * one itself.
 */
export async function requestAudits(
  client: AuditClient,
  key: KeyPair,
  audit: SessionAudit,
  commitments: readonly SignedCommitment[],
): Promise<AuditRequestOutcome[]> {
  return Promise.all(
    audit.selected(commitments.filter((c) => !takesPrompt(c.shardIndex))).map(async (c) => {
      try {
        await client.requestAudit(key, c, audit.secret);
        return { nodeId: c.nodeId, shardIndex: c.shardIndex, shardEnd: c.shardEnd };
      } catch (error) {
        return {
          nodeId: c.nodeId,
          shardIndex: c.shardIndex,
          shardEnd: c.shardEnd,
          error: (error as { details?: string }).details || (error as Error).message,
          reason: reasonOf(error as ServiceError) ?? status[(error as ServiceError).code],
        };
      }
    }),
  );
}
