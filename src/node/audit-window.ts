import { hex } from '../crypto/hash.ts';
import type { SignedCommitment } from '../protocol/commitment.ts';
import { ticketIdOf, type TicketInputBytes } from '../protocol/ticket.ts';
import type { AuditStepStore } from './node-db.ts';

/** A committed step from position 0, kept to answer an audit of it. */
export interface RetainedStep {
  readonly sessionId: string;
  readonly input: TicketInputBytes;
  readonly commitment: SignedCommitment;
  readonly atMs: number;
  /** Its row in the node's store, when the window has one. */
  readonly rowId?: number;
}

export interface AuditWindowLimits {
  readonly maxSteps: number;
  readonly maxBytes: number;
  /** Steps older than this go whatever the bounds (stretched to the retention when that is longer). */
  readonly maxAgeMs: number;
}

export const AUDIT_WINDOW_DEFAULTS: AuditWindowLimits = {
  maxSteps: 4096,
  maxBytes: 256 * 1024 * 1024,
  maxAgeMs: 10 * 60 * 1000,
};

/**
 * The retention of the cluster config's defaults (audit.requestWindowMs 120 s + audit.ticketDeadlineMs
 * 60 s + maxClockSkewMs 30 s), kept until the registry answers the registration with its own.
 */
export const DEFAULT_AUDIT_RETENTION_MS = 210_000;

const MIB = 1024 * 1024;

/**
 * The inputs a node keeps to answer audits, bounded by count, bytes and age, oldest out first. A
 * step leaves when it is ticketed or falls out of the bounds, not when its session ends: an audit can
 * come from the client's reveal on the stream or, later, from the registry (a client's audit request,
 * handed over at a heartbeat), and a request the registry took and the node cannot answer is slashed
 * as a refusal.
 *
 * So a step younger than `retentionMs` (how long the registry may still take requests for it) never
 * goes for count or bytes: once the bounds hold only such steps the window is full, and the node
 * refuses new work (see NodeAudits.checkRoom) rather than drop a step it may still owe. Steps whose
 * room was checked before it filled are still kept, so the bounds can be exceeded by one step per
 * session in flight.
 */
export class AuditWindow {
  /** How long a step must be kept: the registry's auditRetentionMs, set when it answers the registration. */
  retentionMs = DEFAULT_AUDIT_RETENTION_MS;
  /** Oldest first (a Map keeps insertion order). */
  private readonly steps = new Map<RetainedStep, true>();
  private readonly bySession = new Map<string, Set<RetainedStep>>();
  /**
   * By hex step id: a client may send a step of one session twice (a replay of position 0), so one
   * step id can name several commitments.
   */
  private readonly byStep = new Map<string, Set<RetainedStep>>();
  /** By ticket id (ticketIdOf its commitment): exactly one commitment each. */
  private readonly byTicket = new Map<string, RetainedStep>();
  private heldBytes = 0;
  /** Steps dropped to the bounds or their age before an audit took them. */
  evicted = 0;

  /**
   * `store`: where kept steps are written as they are kept, and read back at start, so that steps
   * the node may still owe survive its restart. A step leaves the store when it is released: after
   * its ticket went out, or when it can no longer be owed.
   */
  constructor(
    private readonly limits: AuditWindowLimits,
    private readonly now: () => number = Date.now,
    private readonly store?: AuditStepStore,
  ) {
    for (const step of store?.all() ?? []) this.hold(step);
    this.expire();
  }

  get size(): number {
    return this.steps.size;
  }

  get bytes(): number {
    return this.heldBytes;
  }

  keep(step: Omit<RetainedStep, 'atMs' | 'rowId'>): void {
    const atMs = this.now();
    const rowId = this.store?.insert({ ...step, atMs });
    this.hold({ ...step, atMs, ...(rowId === undefined ? {} : { rowId }) });
    this.expire();
  }

  /** Lets go of a taken step for good (its ticket went out, or it is not selected). */
  release(step: RetainedStep): void {
    if (step.rowId !== undefined) this.store?.delete(step.rowId);
  }

  private hold(kept: RetainedStep): void {
    this.steps.set(kept, true);
    let session = this.bySession.get(kept.sessionId);
    if (!session) this.bySession.set(kept.sessionId, (session = new Set()));
    session.add(kept);
    const id = hex(kept.commitment.stepId);
    let same = this.byStep.get(id);
    if (!same) this.byStep.set(id, (same = new Set()));
    same.add(kept);
    this.byTicket.set(ticketIdOf(kept.commitment), kept);
    this.heldBytes += kept.input.bytes.length;
  }

  /** The session's kept steps, taken out of the window (release each once done with it). */
  take(sessionId: string): RetainedStep[] {
    this.expire();
    const steps = [...(this.bySession.get(sessionId) ?? [])];
    for (const step of steps) this.forget(step);
    return steps;
  }

  /**
   * Why the window can take no more steps now (its bounds are reached with steps it must keep), or
   * undefined. Steps past their retention go first to make room.
   */
  fullness(): string | undefined {
    this.expire(true);
    const { maxSteps, maxBytes } = this.limits;
    if (this.steps.size < maxSteps && this.heldBytes < maxBytes) return undefined;
    return (
      `audit window full: ${this.steps.size} steps (${(this.heldBytes / MIB).toFixed(1)} MiB; bounds ${maxSteps} steps, ${(maxBytes / MIB).toFixed(1)} MiB) ` +
      `younger than ${Math.round(this.retentionMs / 1000)} s, which this node must keep to answer audit requests; try another node`
    );
  }

  /**
   * The kept step of this step id, taken out of the window (release it once done); undefined when
   * none is held, or when several are (a replayed step): the id does not say which one is meant, so
   * none is taken (an audit names its commitment: takeTicket).
   */
  takeStep(stepId: Uint8Array): RetainedStep | undefined {
    this.expire();
    const same = this.byStep.get(hex(stepId));
    if (same === undefined || same.size !== 1) return undefined;
    const [step] = same;
    this.forget(step!);
    return step;
  }

  /** What takeStep would take, left in the window. */
  peekStep(stepId: Uint8Array): RetainedStep | undefined {
    this.expire();
    const same = this.byStep.get(hex(stepId));
    return same?.size === 1 ? [...same][0] : undefined;
  }

  /** What takeTicket would take, left in the window. */
  peekTicket(ticketId: string): RetainedStep | undefined {
    this.expire();
    return this.byTicket.get(ticketId);
  }

  /** How many kept steps carry this step id. */
  countStep(stepId: Uint8Array): number {
    return this.byStep.get(hex(stepId))?.size ?? 0;
  }

  /** The kept step whose commitment has this ticket id, taken out of the window (release it once done). */
  takeTicket(ticketId: string): RetainedStep | undefined {
    this.expire();
    const step = this.byTicket.get(ticketId);
    if (step) this.forget(step);
    return step;
  }

  /**
   * Lets go of steps past their age, and of steps past their retention while the bounds are exceeded
   * (or, to make `room` for one more, reached). Steps within their retention stay.
   */
  private expire(room = false): void {
    const now = this.now();
    const stale = now - Math.max(this.limits.maxAgeMs, this.retentionMs);
    const owed = now - this.retentionMs;
    const slack = room ? 1 : 0;
    for (const step of this.steps.keys()) {
      const overBounds =
        this.steps.size + slack > this.limits.maxSteps || this.heldBytes + slack > this.limits.maxBytes;
      if (step.atMs >= stale && !(overBounds && step.atMs <= owed)) break;
      this.forget(step);
      this.release(step);
      this.evicted++;
    }
  }

  private forget(step: RetainedStep): void {
    if (!this.steps.delete(step)) return;
    this.heldBytes -= step.input.bytes.length;
    const session = this.bySession.get(step.sessionId)!;
    session.delete(step);
    if (session.size === 0) this.bySession.delete(step.sessionId);
    const id = hex(step.commitment.stepId);
    const same = this.byStep.get(id);
    same?.delete(step);
    if (same?.size === 0) this.byStep.delete(id);
    const ticketId = ticketIdOf(step.commitment);
    if (this.byTicket.get(ticketId) === step) this.byTicket.delete(ticketId);
  }
}
