import type { Logger } from '../core/log.ts';
import type { KeyPair } from '../crypto/keys.ts';
import { status, type ServiceError } from '@grpc/grpc-js';
import { AuditClient } from '../audit/audit-client.ts';
import type { SignedCommitment } from '../protocol/commitment.ts';
import { ENGINE_VERSION } from '../model/engine-version.ts';
import { auditCommitmentOf, isAudited } from '../protocol/audit-selection.ts';
import { encodeTicket, ticketIdOf, type HiddenDType, type TicketInputBytes } from '../protocol/ticket.ts';
import { signTicket } from '../protocol/ticket-signature.ts';
import type { OwedAudit__Output } from '../proto/tessera/v1/OwedAudit.ts';
import type { Step__Output } from '../proto/tessera/v1/Step.ts';
import { AuditWindow, type AuditWindowLimits, type RetainedStep } from './audit-window.ts';
import type { AuditStepStore } from './node-db.ts';
import type { StepInput } from './limits.ts';
import { ForwardReason, NodeStatusError } from '../protocol/forward-status.ts';
import type { Manifest } from '../model/manifest.ts';
import { formatSpan, sameSpan, spanContains, spanOf, spanSha256, type ShardSpan } from '../model/shards/span.ts';

export interface NodeAuditOptions {
  /** The model's manifest: a ticket names the weights of its commitment's span by their hash. */
  readonly manifest: Manifest;
  /** The shards the node holds: it ran each kept step on a span of them. */
  readonly held: ShardSpan;
  /** Fraction of position-0 steps a revealed secret selects: the cluster's rate. */
  readonly samplingRate: number;
  readonly window: AuditWindowLimits;
  /** The node's key: the registry queues only tickets signed by the node that committed to the step. */
  readonly key?: KeyPair;
  /** Where tickets go; none: selected steps are only logged. */
  readonly registry?: string;
  readonly log: Logger;
  /** Where kept steps survive a restart; none: they are kept in memory only. */
  readonly store?: AuditStepStore;
}

/** Tickets waiting to reach the registry; past this, new ones are dropped (and logged). */
const MAX_PENDING_TICKETS = 256;
const SUBMIT_ATTEMPTS = 5;
const RETRIED = new Set([status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.RESOURCE_EXHAUSTED]);
/** Step ids already answered (ticketed, or found missing), so that no audit is answered twice. */
const MAX_ANSWERED = 4096;

/**
 * A node's side of commit-then-challenge: keeps the input and commitment (which names the span its
 * hop ran) of every step from position 0 of an audited session, and tickets to the registry, in the background (the stream
 * does not wait), each kept step that an audit selects: the client's reveal on the stream, or a
 * client's audit request that the registry hands over at a heartbeat (even after the session ended,
 * or when the client never revealed on the stream). Each step is answered at most once.
 */
export class NodeAudits {
  readonly window: AuditWindow;
  /** Set from the registry's answer to the registration unless configured. */
  samplingRate: number;
  private readonly client?: AuditClient;
  private readonly pending = new Set<Promise<void>>();
  /** Hex step ids, oldest first. */
  private readonly answered = new Set<string>();
  ticketsSubmitted = 0;

  constructor(private readonly options: NodeAuditOptions) {
    this.window = new AuditWindow(options.window, Date.now, options.store);
    this.samplingRate = options.samplingRate;
    if (options.registry !== undefined) this.client = new AuditClient(options.registry);
  }

  /**
   * Keeps a committed step that started at position 0, as received (none at rate 0: nothing can be
   * audited). A step of token ids is the prompt: no ticket of it may leave the node (the registry
   * refuses them, TICKET_HOLDS_PROMPT), so it is not kept; the client checks it.
   */
  retain(sessionId: string, step: Step__Output, input: StepInput, commitment: SignedCommitment): void {
    if (this.samplingRate === 0 || 'tokens' in input) return;
    const ticketInput: TicketInputBytes = {
      tokens: false,
      dtype: step.hidden!.dtype as HiddenDType,
      positions: input.positions,
      width: this.options.manifest.config.hiddenSize,
      bytes: input.bytes,
    };
    this.window.keep({ sessionId, input: ticketInput, commitment });
  }

  /**
   * Throws RESOURCE_EXHAUSTED when the window is full of steps this node may still owe tickets for:
   * asked before work that would add a step (a session's Open, a step from position 0), so that the
   * node turns work away instead of dropping such a step. At rate 0 nothing is kept, so anything goes.
   */
  checkRoom(): void {
    if (this.samplingRate === 0) return;
    const full = this.window.fullness();
    if (full !== undefined) throw new NodeStatusError(ForwardReason.AUDIT_WINDOW_FULL, 'resource_exhausted', full);
  }

  /**
   * The client revealed the session's secret: checks it against the hash given at Open, then tickets
   * the kept steps it selects. Throws INVALID_ARGUMENT for a secret that does not match.
   */
  reveal(sessionId: string, auditCommitment: Uint8Array, secret: Uint8Array): void {
    if (!auditCommitmentOf(secret).equals(auditCommitment)) {
      throw new NodeStatusError(
        ForwardReason.INVALID_AUDIT_REVEAL,
        'invalid',
        'the revealed audit secret does not hash to the audit commitment sent at Open',
      );
    }
    // Every commitment of the session binds this secret, so the steps it does not select can never
    // be asked for: they leave the window now.
    for (const step of this.window.take(sessionId)) {
      if (!isAudited(secret, step.commitment, this.samplingRate)) {
        this.window.release(step);
        continue;
      }
      this.remember(step);
      this.submit(step, secret);
    }
  }

  /**
   * The registry's hand-over of the audits clients requested of this node: tickets each kept step
   * whose secret selects it and whose commitment names the span the request does (a node answers for
   * the span it committed to), and logs each one it no longer holds (past the window's bounds), once.
   */
  answerOwed(owed: readonly OwedAudit__Output[]): void {
    const { log, held } = this.options;
    for (const audit of owed) {
      const stepId = audit.stepId.toString('hex');
      // A request names its commitment (a replayed step shares its step id with another); one from
      // a registry that names none is matched by step id, and only while that is unambiguous.
      const key = audit.ticketId === '' ? stepId : audit.ticketId;
      if (this.answered.has(key)) continue;
      const span = spanOf(audit);
      const fields = { shard: span.start, shardEnd: span.end, stepId, dueByMs: audit.dueByMs };
      if (audit.ticketId === '' && this.window.countStep(audit.stepId) > 1) {
        log('audit_request_ambiguous', {
          ...fields,
          reason: 'the request names no commitment and this step id names several kept steps (a replayed step)',
        });
        continue;
      }
      this.answered.add(key);
      this.trimAnswered();
      const notSelected = (reason: string) => log('audit_request_not_selected', { ...fields, reason });
      if (!spanContains(held, span)) {
        notSelected(`the request names shards [${span.start}, ${span.end}), this node holds ${formatSpan(held)}`);
        continue;
      }
      // The draw covers the node's signature of the step: the kept commitment is read before the
      // step is taken, so that a secret that does not select it leaves it in the window.
      const kept = audit.ticketId === '' ? this.window.peekStep(audit.stepId) : this.window.peekTicket(audit.ticketId);
      if (!kept) {
        log('audit_request_unanswerable', {
          ...fields,
          reason:
            'the step is not in the audit window (past its age, or never kept); the registry will count a refusal',
        });
        continue;
      }
      const committed = spanOf(kept.commitment);
      if (!sameSpan(committed, span)) {
        notSelected(`the request names ${formatSpan(span)}, the step's commitment ${formatSpan(committed)}`);
        continue;
      }
      if (!isAudited(audit.secret, kept.commitment, this.samplingRate)) {
        notSelected(
          `the request's secret does not select this step of ${formatSpan(span)} at rate ${this.samplingRate}`,
        );
        continue;
      }
      if (audit.ticketId === '') this.window.takeStep(audit.stepId);
      else this.window.takeTicket(audit.ticketId);
      this.submit(kept, audit.secret);
    }
  }

  /** Waits up to `graceMs` for tickets still on their way, then closes the registry channel. */
  async close(graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.pending), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    this.client?.close();
  }

  /** Remembers a step answered from the stream's reveal, by its ticket id and (for old registries) its step id. */
  private remember(step: RetainedStep): void {
    this.answered.add(ticketIdOf(step.commitment));
    this.answered.add(Buffer.from(step.commitment.stepId).toString('hex'));
    this.trimAnswered();
  }

  private trimAnswered(): void {
    while (this.answered.size > MAX_ANSWERED) this.answered.delete(this.answered.values().next().value!);
  }

  /** Tickets a taken step in the background; it leaves the store once the registry has answered. */
  private submit(step: RetainedStep, secret: Uint8Array): void {
    const { log } = this.options;
    const { input, commitment } = step;
    const fields = { shard: commitment.shardIndex, shardEnd: commitment.shardEnd, positions: input.positions };
    if (!this.client) {
      this.window.release(step);
      return log('audit_selected', { ...fields, registry: 'none: the ticket is not submitted' });
    }
    if (this.pending.size >= MAX_PENDING_TICKETS) {
      this.window.release(step);
      return log('audit_ticket_dropped', {
        ...fields,
        reason: `${MAX_PENDING_TICKETS} tickets already waiting for the registry`,
      });
    }
    const work = this.send(input, commitment, secret).then(
      (ticketId) => {
        this.ticketsSubmitted++;
        this.window.release(step);
        log('audit_ticket_submitted', { ...fields, ticketId });
      },
      (error: ServiceError) => {
        this.window.release(step);
        log('audit_ticket_failed', { ...fields, error: error.details || error.message });
      },
    );
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  private async send(input: TicketInputBytes, commitment: SignedCommitment, secret: Uint8Array): Promise<string> {
    const { manifest, key } = this.options;
    const span = spanOf(commitment);
    const encoded = await encodeTicket({
      modelId: manifest.modelId,
      shardIndex: span.start,
      shardEnd: span.end,
      shardSha256: spanSha256(manifest, span),
      engineVersion: ENGINE_VERSION,
      input,
      startPosition: 0,
      commitment,
    });
    const ticket = key === undefined ? encoded : signTicket(key, encoded, commitment, secret);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.client!.submitTicket(ticket);
      } catch (error) {
        const code = (error as ServiceError).code;
        if (code === status.ALREADY_EXISTS) return 'already held';
        if (!RETRIED.has(code) || attempt === SUBMIT_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      }
    }
  }
}
