import { status, type ServiceError } from '@grpc/grpc-js';
import { AuditClient } from '../audit/audit-client.ts';
import type { SignedCommitment } from '../audit/commitment.ts';
import { ENGINE_VERSION } from '../audit/engine-version.ts';
import { auditCommitmentOf, isAudited } from '../audit/selection.ts';
import { encodeTicket, type HiddenDType, type TicketInputBytes } from '../audit/ticket.ts';
import type { Step__Output } from '../proto/tessera/v1/Step.ts';
import { AuditWindow, type AuditWindowLimits } from './audit-window.ts';
import type { StepInput } from './limits.ts';
import { NodeStatusError } from './node-status.ts';

export interface NodeAuditOptions {
  readonly modelId: string;
  readonly shardIndex: number;
  readonly shardSha256: string;
  readonly hiddenSize: number;
  /** Fraction of position-0 steps a revealed secret selects: the cluster's rate. */
  readonly samplingRate: number;
  readonly window: AuditWindowLimits;
  /** Where tickets go; none: selected steps are only logged. */
  readonly registry?: string;
  readonly log: (event: string, fields: Record<string, unknown>) => void;
}

/** Tickets waiting to reach the registry; past this, new ones are dropped (and logged). */
const MAX_PENDING_TICKETS = 256;
const SUBMIT_ATTEMPTS = 5;
const RETRIED = new Set([status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.RESOURCE_EXHAUSTED]);

/**
 * A node's side of commit-then-challenge: keeps the input and commitment of every step from
 * position 0 of an audited session, and when the client reveals the session's secret, tickets the
 * steps it selects to the registry, in the background (the stream does not wait).
 */
export class NodeAudits {
  readonly window: AuditWindow;
  /** Set from the registry's answer to the registration unless configured. */
  samplingRate: number;
  private readonly client?: AuditClient;
  private readonly pending = new Set<Promise<void>>();
  ticketsSubmitted = 0;

  constructor(private readonly options: NodeAuditOptions) {
    this.window = new AuditWindow(options.window);
    this.samplingRate = options.samplingRate;
    if (options.registry !== undefined) this.client = new AuditClient(options.registry);
  }

  /** Keeps a committed step that started at position 0, as received. */
  retain(sessionId: string, step: Step__Output, input: StepInput, commitment: SignedCommitment): void {
    const ticketInput: TicketInputBytes = 'tokens' in input
      ? { tokens: true, positions: input.positions, bytes: input.bytes }
      : { tokens: false, dtype: step.hidden!.dtype as HiddenDType, positions: input.positions, width: this.options.hiddenSize, bytes: input.bytes };
    this.window.keep({ sessionId, input: ticketInput, commitment });
  }

  /**
   * The client revealed the session's secret: checks it against the hash given at Open, then tickets
   * the kept steps it selects. Throws INVALID_ARGUMENT for a secret that does not match.
   */
  reveal(sessionId: string, auditCommitment: Uint8Array, secret: Uint8Array): void {
    if (!auditCommitmentOf(secret).equals(auditCommitment)) {
      throw new NodeStatusError(status.INVALID_ARGUMENT, 'the revealed audit secret does not hash to the audit commitment sent at Open');
    }
    for (const kept of this.window.take(sessionId)) {
      if (!isAudited(secret, kept.commitment.stepId, this.options.shardIndex, this.samplingRate)) continue;
      this.submit(kept.input, kept.commitment);
    }
  }

  endSession(sessionId: string): void {
    this.window.drop(sessionId);
  }

  /** Waits up to `graceMs` for tickets still on their way, then closes the registry channel. */
  async close(graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.pending), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    this.client?.close();
  }

  private submit(input: TicketInputBytes, commitment: SignedCommitment): void {
    const { log } = this.options;
    const fields = { shard: this.options.shardIndex, positions: input.positions };
    if (!this.client) return log('audit.selected', { ...fields, registry: 'none: the ticket is not submitted' });
    if (this.pending.size >= MAX_PENDING_TICKETS) return log('audit.ticket_dropped', { ...fields, reason: `${MAX_PENDING_TICKETS} tickets already waiting for the registry` });
    const work = this.send(input, commitment).then(
      (ticketId) => {
        this.ticketsSubmitted++;
        log('audit.ticket_submitted', { ...fields, ticketId });
      },
      (error: ServiceError) => log('audit.ticket_failed', { ...fields, error: error.details || error.message }),
    );
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  private async send(input: TicketInputBytes, commitment: SignedCommitment): Promise<string> {
    const { modelId, shardIndex, shardSha256 } = this.options;
    const ticket = await encodeTicket({ modelId, shardIndex, shardSha256, engineVersion: ENGINE_VERSION, input, startPosition: 0, commitment });
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
