import { credentials, status, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import type { ErrorKind } from '../core/errors.ts';
import { tessera } from '../proto/services.ts';
import { FORWARD_CHANNEL_OPTIONS } from '../rpc/stream-options.ts';
import type { ForwardReply__Output } from '../proto/tessera/v1/ForwardReply.ts';
import type { ForwardRequest } from '../proto/tessera/v1/ForwardRequest.ts';
import type { Hop__Output } from '../proto/tessera/v1/Hop.ts';
import type { NodeClient } from '../proto/tessera/v1/Node.ts';
import type { Open__Output } from '../proto/tessera/v1/Open.ts';
import type { Step } from '../proto/tessera/v1/Step.ts';
import type { StepResult__Output } from '../proto/tessera/v1/StepResult.ts';
import type { StepSignatures__Output } from '../proto/tessera/v1/StepSignatures.ts';
import { ForwardReason, NodeStatusError, PassThroughStatus } from '../protocol/forward-status.ts';
import { openFailureReport, reportFitsRoute } from '../protocol/failure-report.ts';
import { formatSpan, spanOf } from '../model/shards/span.ts';

/**
 * One channel per next-hop endpoint, shared by every session that forwards there (HTTP/2 carries
 * each session as its own stream).
 */
export class NextHopChannels {
  private readonly clients = new Map<string, NodeClient>();

  /** `rootCerts`: the CA bundle that signs TLS next hops (default: the system's). */
  constructor(
    private readonly maxMessageBytes: number,
    private readonly rootCerts?: Buffer,
  ) {}

  client(hop: Hop__Output): NodeClient {
    const key = `${hop.tls ? 'tls' : 'plain'}:${hop.endpoint}`;
    let client = this.clients.get(key);
    if (!client) {
      const creds = hop.tls ? credentials.createSsl(this.rootCerts) : credentials.createInsecure();
      client = new tessera.v1.Node(hop.endpoint, creds, {
        ...FORWARD_CHANNEL_OPTIONS,
        'grpc.max_send_message_length': this.maxMessageBytes,
        'grpc.max_receive_message_length': this.maxMessageBytes,
      }) as unknown as NodeClient;
      this.clients.set(key, client);
    }
    return client;
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}

interface Waiter {
  readonly kind: 'opened' | 'result' | 'signatures' | 'closed';
  readonly step?: number;
  readonly resolve: (reply: ForwardReply__Output) => void;
  readonly reject: (error: Error) => void;
}

/**
 * A session's persistent stream to the next hop of its route: the same Open, then one Step per
 * step, results in order. Any failure fails every pending and later call with the status the
 * upstream stream should end with: the next hop's own status when it names a failed node, else
 * UNAVAILABLE naming the next hop.
 */
export class NextHopLink {
  readonly opened: Promise<void>;
  private readonly call: ClientDuplexStream<ForwardRequest, ForwardReply__Output>;
  private readonly waiters: Waiter[] = [];
  private failure?: Error;
  private closing = false;
  /** Whether the next hop's Opened said it takes a step in parts (Step.partial). */
  takesParts = false;

  /**
   * `position`: the next hop's index in the route (what a failure names it by); `openedTimeoutMs`:
   * how long it may take to answer Open before the session gives up on it.
   */
  constructor(
    client: NodeClient,
    private readonly hop: Hop__Output,
    private readonly position: number,
    open: Open__Output,
    openedTimeoutMs: number,
  ) {
    this.call = client.forward();
    this.call.on('data', (reply: ForwardReply__Output) => this.onReply(reply));
    // A deeper failure is relayed only with a report from below this node that fits the session;
    // anything else is the next hop's failure, reported by this node (it saw it first-hand).
    const accepts = (bytes: Buffer, named: string) => {
      const report = openFailureReport(bytes);
      return (
        report !== undefined &&
        report.failedNode === named &&
        reportFitsRoute(report, open.sessionId, open.route, position)
      );
    };
    this.call.on('error', (error: ServiceError) =>
      this.fail(
        PassThroughStatus.from(error, accepts) ??
          this.hopFailed(`${status[error.code] ?? error.code}: ${error.details}`),
      ),
    );
    this.call.on('end', () => {
      const owed = this.waiters.find((w) => w.kind === 'signatures');
      this.fail(
        owed
          ? this.badResult(`it ended the stream without the signatures of step ${owed.step}`)
          : this.hopFailed('it ended the stream'),
      );
    });
    this.opened = this.expect('opened').then(() => undefined);
    this.opened.catch(() => undefined); // a step that fails first reports it
    const timer = setTimeout(() => {
      this.fail(
        this.hopFailed(
          `it did not answer Open within ${openedTimeoutMs} ms`,
          ForwardReason.NEXT_HOP_TIMEOUT,
          'deadline_exceeded',
        ),
      );
      this.call.cancel();
    }, openedTimeoutMs);
    timer.unref();
    void this.opened.finally(() => clearTimeout(timer)).catch(() => undefined);
    this.call.write({ open });
  }

  /**
   * Sends a step; its result, then its signatures, follow in that order (both expected at once, as
   * they may arrive in one read).
   */
  step(step: Step): { result: Promise<StepResult__Output>; signatures: Promise<StepSignatures__Output> } {
    const result = this.expect('result', Number(step.step));
    const signatures = this.expect('signatures', Number(step.step));
    if (!this.failure) this.call.write({ step });
    return { result: result.then((r) => r.result!), signatures: signatures.then((r) => r.signatures!) };
  }

  /**
   * Sends a part of a step (Step.partial; only when `takesParts`): it gets no reply, and a failure
   * shows on the step's last part.
   */
  part(step: Step): void {
    if (!this.failure) this.call.write({ step: { ...step, partial: true } });
  }

  /** Passes Close on: resolves once the next hop has sent the signatures it owes, then Closed. */
  requestClose(): Promise<void> {
    const closed = this.expect('closed');
    if (!this.failure) this.call.write({ close: {} });
    return closed.then(() => undefined);
  }

  /** Passes the client's audit secret on; it gets no reply. */
  reveal(secret: Uint8Array): void {
    if (!this.failure) this.call.write({ reveal: { secret } });
  }

  /** Passes the client's usage receipt on; it gets no reply. */
  attest(receipt: { payload: Uint8Array; signature: Uint8Array }): void {
    if (!this.failure) this.call.write({ usage: { receipt } });
  }

  /** Ends the session downstream too. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.fail(new NodeStatusError(ForwardReason.SESSION_CLOSED, 'failed_precondition', 'session closed'));
    try {
      this.call.write({ close: {} });
      this.call.end();
    } catch {
      // already ended
    }
  }

  /** Drops the stream at once; what is pending fails with `reason`. */
  cancel(
    reason: Error = new NodeStatusError(ForwardReason.SESSION_CLOSED, 'failed_precondition', 'session cancelled'),
  ): void {
    this.closing = true;
    this.fail(reason);
    this.call.cancel();
  }

  private hopFailed(
    what: string,
    code: ForwardReason = ForwardReason.NEXT_HOP_FAILED,
    kind: ErrorKind = 'unavailable',
  ): NodeStatusError {
    const { hop, position } = this;
    return new NodeStatusError(
      code,
      kind,
      `next hop ${position} (${formatSpan(spanOf(hop))}, ${hop.nodeId} at ${hop.endpoint}) failed: ${what}`,
      { nodeId: hop.nodeId, shardIndex: position },
    );
  }

  private badResult(what: string): NodeStatusError {
    return this.hopFailed(what, ForwardReason.NEXT_HOP_BAD_RESULT, 'internal');
  }

  private expect(kind: Waiter['kind'], step?: number): Promise<ForwardReply__Output> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ kind, step, resolve, reject }));
  }

  private onReply(reply: ForwardReply__Output): void {
    const waiter = this.waiters.shift();
    if (!waiter) return this.fail(this.hopFailed(`it sent a ${reply.kind} nobody asked for`));
    if (waiter.kind === 'opened') {
      if (reply.kind !== 'opened') return this.fail(this.hopFailed(`it answered Open with ${reply.kind}`), waiter);
      if (reply.opened!.nodeId !== this.hop.nodeId)
        return this.fail(
          this.hopFailed(`the node there is ${reply.opened!.nodeId}, not the one the route names`),
          waiter,
        );
      this.takesParts = reply.opened!.takesParts;
    } else if (waiter.kind === 'signatures') {
      if (reply.kind !== 'signatures' || reply.signatures!.step !== waiter.step)
        return this.fail(
          this.badResult(
            `it sent ${reply.kind === 'result' ? `the result of step ${reply.result!.step}` : reply.kind === 'signatures' ? `the signatures of step ${reply.signatures!.step}` : reply.kind} where the signatures of step ${waiter.step} were owed`,
          ),
          waiter,
        );
    } else if (waiter.kind === 'closed') {
      if (reply.kind !== 'closed') return this.fail(this.hopFailed(`it answered Close with ${reply.kind}`), waiter);
    } else if (reply.kind !== 'result' || reply.result!.step !== waiter.step) {
      return this.fail(
        this.hopFailed(
          `it answered step ${waiter.step} with ${reply.kind === 'result' ? `the result of step ${reply.result!.step}` : reply.kind}`,
        ),
        waiter,
      );
    }
    waiter.resolve(reply);
  }

  private fail(error: Error, current?: Waiter): void {
    if (this.closing && this.failure) return;
    this.failure ??= error;
    current?.reject(this.failure);
    for (const waiter of this.waiters.splice(0)) waiter.reject(this.failure);
    if (!this.closing && current) this.call.cancel();
  }
}
