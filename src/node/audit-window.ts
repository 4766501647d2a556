import type { SignedCommitment } from '../audit/commitment.ts';
import type { TicketInputBytes } from '../audit/ticket.ts';

/** A committed step from position 0, kept until its session's audit secret is revealed. */
export interface RetainedStep {
  readonly sessionId: string;
  readonly input: TicketInputBytes;
  readonly commitment: SignedCommitment;
  readonly atMs: number;
}

export interface AuditWindowLimits {
  readonly maxSteps: number;
  readonly maxBytes: number;
  readonly maxAgeMs: number;
}

export const AUDIT_WINDOW_DEFAULTS: AuditWindowLimits = { maxSteps: 4096, maxBytes: 256 * 1024 * 1024, maxAgeMs: 10 * 60 * 1000 };

/**
 * The inputs a node keeps to answer audits, bounded by count, bytes and age: oldest go first. A
 * step that falls out before its secret is revealed cannot be ticketed (its refusal then stands at
 * the registry if the client filed an audit request), so the bounds should comfortably cover the
 * time from a prefill to its reveal, which an honest client sends right after the prefill result.
 */
export class AuditWindow {
  /** Oldest first (a Map keeps insertion order). */
  private readonly steps = new Map<RetainedStep, true>();
  private readonly bySession = new Map<string, Set<RetainedStep>>();
  private heldBytes = 0;
  /** Steps dropped to the bounds before their reveal. */
  evicted = 0;

  constructor(private readonly limits: AuditWindowLimits, private readonly now: () => number = Date.now) {}

  get size(): number {
    return this.steps.size;
  }

  get bytes(): number {
    return this.heldBytes;
  }

  keep(step: Omit<RetainedStep, 'atMs'>): void {
    const kept: RetainedStep = { ...step, atMs: this.now() };
    this.steps.set(kept, true);
    let session = this.bySession.get(kept.sessionId);
    if (!session) this.bySession.set(kept.sessionId, (session = new Set()));
    session.add(kept);
    this.heldBytes += kept.input.bytes.length;
    this.expire();
  }

  /** The session's kept steps that are not too old, now let go. */
  take(sessionId: string): RetainedStep[] {
    this.expire();
    const steps = [...(this.bySession.get(sessionId) ?? [])];
    for (const step of steps) this.forget(step);
    return steps;
  }

  drop(sessionId: string): void {
    this.take(sessionId);
  }

  private expire(): void {
    const oldest = this.now() - this.limits.maxAgeMs;
    for (const step of this.steps.keys()) {
      if (this.steps.size <= this.limits.maxSteps && this.heldBytes <= this.limits.maxBytes && step.atMs >= oldest) break;
      this.forget(step);
      this.evicted++;
    }
  }

  private forget(step: RetainedStep): void {
    if (!this.steps.delete(step)) return;
    this.heldBytes -= step.input.bytes.length;
    const session = this.bySession.get(step.sessionId)!;
    session.delete(step);
    if (session.size === 0) this.bySession.delete(step.sessionId);
  }
}
