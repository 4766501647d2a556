import { status, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { reasonOf } from '../rpc/status.ts';
import type { SessionAudit } from '../audit/session-audit.ts';
import { signReceipt } from '../protocol/receipt.ts';
import { sessionHashOf } from '../protocol/share.ts';
import type { KeyPair } from '../crypto/keys.ts';
import type { ForwardReply__Output } from '../proto/tessera/v1/ForwardReply.ts';
import type { AuditReveal } from '../proto/tessera/v1/AuditReveal.ts';
import type { ForwardRequest } from '../proto/tessera/v1/ForwardRequest.ts';
import type { SamplingFields } from '../protocol/commitment.ts';
import type { StepResult__Output } from '../proto/tessera/v1/StepResult.ts';
import type { StepSignatures__Output } from '../proto/tessera/v1/StepSignatures.ts';
import { BUSY_REASONS, FAILED_NODE_KEY, ForwardReason } from '../protocol/forward-status.ts';
import { FAILURE_REPORT_KEY, openFailureReport, reportFitsRoute } from '../protocol/failure-report.ts';
import { relayFailure, ResultRefusal } from './commitment-chain.ts';
import type { NodePool } from './node-pool.ts';
import type { RouteHop } from './routing.ts';

/**
 * Why a session broke: `hop` (a node died, reset the stream or answered UNAVAILABLE), `expired`
 * (a node evicted the session: replay, nobody is at fault), `busy` (a node refused for now: full, or
 * this client's share of it is taken; retry soon), `stale` (the route names a node that is no longer
 * registered: choose again, nobody is at fault), `commitment` (a node's signed chain does not link),
 * `caller` (the request itself is wrong: retrying cannot help).
 */
export type FailureKind = 'hop' | 'expired' | 'busy' | 'stale' | 'commitment' | 'caller';

export class HopFailure extends Error {
  constructor(
    message: string,
    readonly kind: FailureKind,
    /** The node the failure names: only the first hop's own word about itself is first-hand. */
    readonly failedNodeId?: string,
    /**
     * The `tessera-reason` the stream ended with, when it ended with a status; for a result this
     * client refused, its ResultRefusal (src/client/commitment-chain.ts).
     */
    readonly reason?: string,
    /**
     * The hop whose signed report (for this session, about itself or its next hop) backs
     * `failedNodeId`; none when no report fits, and then only the first hop's word stands.
     */
    readonly reporter?: string,
  ) {
    super(message);
  }
}

export interface StepInput {
  readonly startPosition: number;
  readonly tokens: readonly number[];
  readonly history: readonly number[];
}

/** How long a closed session's stream may take to end by itself before it is cancelled. */
const CLOSE_GRACE_MS = 5000;

/** A session's part in audits: its commit-then-challenge, and the registry that listed its route (it knows the nodes). */
export interface SessionAuditing {
  readonly audit: SessionAudit;
  readonly registry: string;
}

/** A step sent: its result, then the signatures of its commitments (proto/tessera/v1/node.proto, the rule above Node). */
export interface SentStep {
  readonly result: Promise<StepResult__Output>;
  readonly signatures: Promise<StepSignatures__Output>;
}

interface Waiter {
  readonly expect: 'opened' | 'result' | 'signatures' | 'closed';
  readonly step?: number;
  readonly resolve: (reply: ForwardReply__Output) => void;
  readonly reject: (error: HopFailure) => void;
  readonly timer: NodeJS.Timeout;
}

/** The node that signed the report behind the failed-node trailer, when the report fits the session. */
function reporterOf(error: ServiceError, named: string | undefined, sessionId: string, route: readonly RouteHop[]) {
  const bytes = error.metadata?.get(FAILURE_REPORT_KEY)[0];
  if (named === undefined || !Buffer.isBuffer(bytes)) return undefined;
  const report = openFailureReport(bytes);
  if (report === undefined || report.failedNode !== named || !reportFitsRoute(report, sessionId, route))
    return undefined;
  return report.reporter;
}

function failureFromStatus(error: ServiceError, sessionId: string, route: readonly RouteHop[]): HopFailure {
  const named = error.metadata?.get(FAILED_NODE_KEY)[0];
  const failedNodeId = typeof named === 'string' && named !== '' ? named : undefined;
  const message = error.details || error.message;
  const reason = reasonOf(error);
  const reporter = reporterOf(error, failedNodeId, sessionId, route);
  const failure = (kind: FailureKind) => new HopFailure(message, kind, failedNodeId, reason, reporter);
  if (reason === ForwardReason.SESSION_EXPIRED) return failure('expired');
  if (reason !== undefined && BUSY_REASONS.has(reason)) return failure('busy');
  if (reason === ForwardReason.NEXT_HOP_NOT_REGISTERED) return failure('stale');
  if (error.code === status.INVALID_ARGUMENT || error.code === status.OUT_OF_RANGE) return failure('caller');
  return failure('hop');
}

/**
 * One Forward stream to the first hop's node (its span starts at shard 0: it takes the token ids):
 * Open, then Steps answered in order. Requests are written
 * without waiting for earlier replies (the Open and the prefill leave together); replies are matched
 * to requests in order. The first failure fails every outstanding and later request.
 */
export class PipelineSession {
  private readonly call: ClientDuplexStream<ForwardRequest, ForwardReply__Output>;
  private readonly waiters: Waiter[] = [];
  private failure?: HopFailure;
  private closed = false;
  private closeRequested = false;
  /** Positions the last usage receipt attested. */
  private attested = 0;
  private revealed = false;
  /** What every commitment of the session must bind: the audit commitment sent at Open, or none. */
  readonly auditCommitment: Uint8Array;
  /** The settings sent at Open, which the last hop's result hash must cover. */
  get sampling(): SamplingFields {
    return this.open.sampling;
  }

  constructor(
    pool: NodePool,
    readonly sessionId: string,
    readonly route: readonly RouteHop[],
    private readonly open: { modelId: string; sampling: SamplingFields; clientKey: KeyPair },
    private readonly stepTimeoutMs: number,
    /** None when the cluster audits nothing. */
    readonly auditing?: SessionAuditing,
  ) {
    const first = route[0]!;
    this.auditCommitment = auditing?.audit.commitment ?? new Uint8Array(0);
    this.call = pool.client(first.endpoint, first.tls).forward();
    this.call.on('data', (reply: ForwardReply__Output) => this.onReply(reply));
    this.call.on('error', (error: ServiceError) => this.fail(failureFromStatus(error, sessionId, route)));
    this.call.on('end', () => {
      const owed = this.waiters.find((w) => w.expect === 'signatures');
      this.fail(
        owed
          ? this.withheld(owed.step!, 'it ended the session stream')
          : new HopFailure(`node ${first.nodeId} at ${first.endpoint} ended the session stream`, 'hop', first.nodeId),
      );
    });
    // a failed open also fails the first step, which reports it
    this.expect('opened').catch(() => undefined);
    this.call.write({
      open: {
        sessionId,
        modelId: open.modelId,
        route: route.map((hop) => ({
          nodeId: hop.nodeId,
          endpoint: hop.endpoint,
          shardIndex: hop.shardIndex,
          shardEnd: hop.shardEnd,
          tls: hop.tls,
        })),
        sampling: open.sampling,
        outputMode: 'off',
        clientKey: open.clientKey.publicKey,
        auditCommitment: auditing?.audit.commitment,
      },
    });
  }

  /**
   * Sends one step: its result (commitments unsigned, not yet checked), then their signatures (not
   * yet checked), which must come before the next step's result.
   */
  step(step: number, input: StepInput): SentStep {
    const result = this.expect('result', step).then((r) => r.result!);
    const signatures = this.expect('signatures', step).then((r) => r.signatures!);
    // a step sent ahead is dropped unread when the one before it fails
    result.catch(() => undefined);
    signatures.catch(() => undefined);
    if (!this.failure)
      this.call.write({
        step: { step, startPosition: input.startPosition, tokens: [...input.tokens], history: [...input.history] },
      });
    return { result, signatures };
  }

  /**
   * Sends Close: resolves once the route has sent the signatures it still owes, then Closed. The
   * stream stays open for the usage receipt until close().
   */
  requestClose(): Promise<void> {
    const closed = this.expect('closed');
    if (!this.failure && !this.closeRequested) {
      this.closeRequested = true;
      this.call.write({ close: {} });
    }
    return closed.then(() => undefined);
  }

  /**
   * Signs and sends the client's usage receipt: every hop of the route has processed `positions`
   * positions of this session. The receipt is positional: route[i] is hop i's node and
   * tokensPerShard[i] the positions through hop i, whatever span it ran. Nodes turn the steps it
   * covers into compute shares. No reply.
   */
  attest(positions: number): void {
    if (this.failure || positions <= this.attested) return;
    this.attested = positions;
    const receipt = signReceipt(this.open.clientKey, {
      sessionHash: sessionHashOf(this.sessionId),
      modelId: this.open.modelId,
      tokensPerShard: this.route.map(() => positions),
      route: this.route.map((hop) => hop.nodeId),
      timestampMs: Date.now(),
    });
    this.call.write({ usage: { receipt: { payload: receipt.payload, signature: receipt.signature } } });
  }

  /**
   * Reveals the audit secret to the route (no reply). A node fails the stream on a second reveal, so
   * only the first call is sent. False when nothing was sent (the session already failed or revealed):
   * the nodes never learn which steps are audited, so no ticket can be asked of them.
   */
  reveal(request: { reveal: AuditReveal }): boolean {
    if (this.failure || this.revealed) return false;
    this.revealed = true;
    this.call.write(request);
    return true;
  }

  /** Ends the session: the nodes free its caches now rather than at idle eviction. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.fail(new HopFailure('session closed', 'caller'));
    try {
      if (!this.closeRequested) this.call.write({ close: {} });
      this.call.end();
    } catch {
      // the stream already failed: nothing to close
    }
    // a node that does not end the stream after Close must not hold it open forever
    setTimeout(() => this.call.cancel(), CLOSE_GRACE_MS).unref();
  }

  private expect(expect: Waiter['expect'], step?: number): Promise<ForwardReply__Output> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const first = this.route[0]!;
      const timer = setTimeout(() => {
        this.fail(
          new HopFailure(
            `no answer from the route (first hop ${first.nodeId} at ${first.endpoint}) within ${this.stepTimeoutMs} ms`,
            'hop',
          ),
        );
        this.call.cancel();
      }, this.stepTimeoutMs);
      this.waiters.push({ expect, step, resolve, reject, timer });
    });
  }

  private onReply(reply: ForwardReply__Output): void {
    const waiter = this.waiters.shift();
    const first = this.route[0]!;
    if (!waiter) {
      this.fail(new HopFailure(`node ${first.nodeId} sent a reply nobody asked for`, 'hop', first.nodeId));
      return;
    }
    clearTimeout(waiter.timer);
    if (reply.kind === 'opened' && reply.opened?.nodeId !== first.nodeId) {
      this.waiters.unshift(waiter);
      this.fail(
        new HopFailure(
          `the node at ${first.endpoint} is ${reply.opened?.nodeId}, not ${first.nodeId} as the route says`,
          'hop',
          first.nodeId,
        ),
      );
      return;
    }
    const matches =
      waiter.expect === 'result'
        ? reply.kind === 'result' && reply.result?.step === waiter.step
        : waiter.expect === 'signatures'
          ? reply.kind === 'signatures' && reply.signatures?.step === waiter.step
          : reply.kind === waiter.expect;
    if (!matches) {
      const got =
        reply.kind === 'result'
          ? `the result of step ${reply.result?.step}`
          : reply.kind === 'signatures'
            ? `the signatures of step ${reply.signatures?.step}`
            : String(reply.kind);
      this.waiters.unshift(waiter);
      this.fail(
        waiter.expect === 'signatures'
          ? this.withheld(waiter.step!, `it sent ${got} instead`)
          : new HopFailure(
              `node ${first.nodeId} answered ${got}, expected ${waiter.expect === 'result' ? `the result of step ${waiter.step}` : waiter.expect}`,
              'hop',
              first.nodeId,
            ),
      );
      return;
    }
    waiter.resolve(reply);
  }

  /** The signatures of `step` did not come when they were owed: the first hop's failure, as every hop checks what it relays. */
  private withheld(step: number, what: string): HopFailure {
    return relayFailure(
      this.route,
      step,
      ResultRefusal.SIGNATURES_WITHHELD,
      `the signatures of step ${step} were owed, but ${what}`,
    );
  }

  private fail(failure: HopFailure): void {
    this.failure ??= failure;
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(this.failure);
    }
  }
}
