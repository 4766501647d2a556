import { randomBytes } from 'node:crypto';
import { sha256 } from '../crypto/hash.ts';
import type { Logger } from '../core/log.ts';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { KeyPair } from '../crypto/keys.ts';
import { CacheFullError } from '../model/kv-cache.ts';
import { EngineInputError, type Engine } from '../model/engine.ts';
import type { StepBatcher, StepRequest } from './step-batcher.ts';
import type { Manifest } from '../model/manifest.ts';
import { formatSpan, type ShardSpan } from '../model/shards/span.ts';
import type { ForwardReply } from '../proto/tessera/v1/ForwardReply.ts';
import type { ForwardRequest__Output } from '../proto/tessera/v1/ForwardRequest.ts';
import type { Open__Output } from '../proto/tessera/v1/Open.ts';
import type { AuditReveal__Output } from '../proto/tessera/v1/AuditReveal.ts';
import type { Step__Output } from '../proto/tessera/v1/Step.ts';
import { AUDIT_SECRET_BYTES } from '../protocol/audit-selection.ts';
import {
  commitmentFieldsOf,
  relayedHashOf,
  resultHashOf,
  signCommitmentFields,
  stepIdOf,
  type CommitmentFields,
  type SignedCommitment,
} from '../protocol/commitment.ts';
import type { Commitment__Output } from '../proto/tessera/v1/Commitment.ts';
import type { StepSignatures__Output } from '../proto/tessera/v1/StepSignatures.ts';
import { checkRelayedResult, checkRelayedSignatures } from './relay-check.ts';
import { validateStep, type NodeBounds, type StepBounds, type StepInput } from './limits.ts';
import { NextHopLink, type NextHopChannels } from './next-hop.ts';
import type { NodeAudits } from './node-audits.ts';
import {
  ForwardReason,
  NodeStatusError,
  PassThroughStatus,
  sessionExpired,
  toStatus,
  type FailedHop,
} from '../protocol/forward-status.ts';
import { sessionDigestOf, signFailureReport } from '../protocol/failure-report.ts';
import { TesseraError } from '../core/errors.ts';
import type { RouteCheck } from './route-check.ts';
import { peerHostOf, type SessionQuota } from './session-quota.ts';
import { checkOpen, type RoutePlace } from './open-check.ts';
import { concatFloat32 } from '../tensor/float32-concat.ts';
import { sampleAt } from './position-sampler.ts';
import type { EvictionReason, Session, SessionStore } from './session-store.ts';
import { clientKeyHex, SessionShares } from './session-shares.ts';
import type { ShareSubmitter } from './share-submitter.ts';
import type { UsageAttestation__Output } from '../proto/tessera/v1/UsageAttestation.ts';

/** What every session stream of a node shares. */
export interface NodeContext {
  readonly key: KeyPair;
  readonly manifest: Manifest;
  /** The shards this node holds: it serves any span of them as a hop of a route. */
  readonly held: ShardSpan;
  /**
   * The engine that runs `span` (a span of `held`): a view sharing the weights of the one over all
   * the node holds, the same one for every session of that span, which makes its sessions' caches.
   */
  readonly engineFor: (span: ShardSpan) => Engine;
  /** Runs the Steps of all sessions through their engines in batches. */
  readonly batcher: StepBatcher;
  readonly store: SessionStore;
  readonly bounds: NodeBounds;
  readonly channels: NextHopChannels;
  readonly audits: NodeAudits;
  /** Budget of one session's cache (the node's whole budget: the store shares it out). */
  readonly cacheBytes: number;
  readonly isDraining: () => boolean;
  /** While the registry says the node's stake is in its cooldown: the instant it ends. */
  readonly unstakingUntilMs?: () => number | undefined;
  /** Compute time of a step through `layers` layers, for the load this node reports and its metrics. */
  readonly recordCompute: (microseconds: number, positions: number, startPosition: number, layers: number) => void;
  readonly log: Logger;
  /** Where the shares of attested steps go; none: the node records no shares. */
  readonly shares?: ShareSubmitter;
  /** Which next hops an Open may name. */
  readonly routes: RouteCheck;
  /** Each client's and each address's share of the session slots. */
  readonly quota: SessionQuota;
  /** How long a new stream may take to send its Open. */
  readonly openTimeoutMs: number;
  /** How long the next hop may take to answer Open. */
  readonly nextHopOpenedTimeoutMs: number;
}

type Call = ServerDuplexStream<ForwardRequest__Output, ForwardReply>;

const bytesOf = (values: Float32Array) => new Uint8Array(values.buffer, values.byteOffset, values.byteLength);

/** A step arriving in parts (Step.partial): its parts so far, as received, and what they made. */
interface StepParts {
  readonly step: number;
  readonly startPosition: number;
  /** Where the next part must start. */
  next: number;
  /** What the parts' hidden states came in (none: token ids): every part must come in it. */
  readonly dtype: string | undefined;
  readonly inputs: StepInput[];
  readonly outputs: Float32Array[];
}

/**
 * Names a stream's kept audit steps apart from any other stream of the same session id, in this run
 * and in the runs before it whose kept steps the node's store brought back.
 */
const RUN_ID = randomBytes(8).toString('hex');
let streamCount = 0;

/**
 * One session's Forward stream: Open, then Steps handled strictly in order (each runs the layers of
 * the span the route gives this node's hop, then either samples, on the last hop, or forwards to the
 * next hop and relays its result with this node's commitment added). Any failure ends the stream with a precise status; the node
 * and its other sessions carry on.
 */
export class ForwardStream {
  private queue: Promise<void> = Promise.resolve();
  private state: 'new' | 'open' | 'done' = 'new';
  private open?: Open__Output;
  /** Where the Open put this node: its hop's position and span, and the next hop. */
  private place?: RoutePlace;
  /** The engine (view) of the hop's span, and what a step may ask of it. */
  private engine?: Engine;
  private bounds?: StepBounds;
  /** This node's hop in the route the Open named, even one refused: failure reports name it. */
  private position = 0;
  private session?: Session;
  private link?: NextHopLink;
  private draining = false;
  /** sha256 of the client's audit secret, which its reveal must match. */
  private auditCommitment?: Uint8Array;
  private revealed = false;
  private readonly auditKey = `stream-${RUN_ID}-${++streamCount}`;
  private earned?: SessionShares;
  /** Gives back this session's slot in the per-client and per-address counts. */
  private releaseQuota?: () => void;
  private openTimer?: NodeJS.Timeout;
  /** The session id the Open named, even one refused: failure reports are signed for it. */
  private sessionId = '';
  /** The relay of the last step's signatures, which must go up before the next result. */
  private signaturesRelayed: Promise<void> = Promise.resolve();
  /** Whether the client sent Close: it asked for the signatures still owed, and no more steps. */
  private closeRequested = false;
  /** The step whose parts are arriving, until its last part. */
  private parts?: StepParts;

  constructor(
    private readonly ctx: NodeContext,
    private readonly call: Call,
    private readonly onDone: (stream: ForwardStream) => void,
  ) {
    call.on('data', (request: ForwardRequest__Output) => {
      // The handshake deadline is about the client sending Open; waiting on the next hop has its own.
      if (request.kind === 'open') {
        clearTimeout(this.openTimer);
        if (this.state === 'new') this.sessionId = request.open?.sessionId ?? '';
      }
      this.enqueue(() => this.onRequest(request));
    });
    call.on('end', () => this.enqueue(async () => this.finish()));
    call.on('cancelled', () => this.abort());
    // A stream that never opens would hold an HTTP/2 stream (and what a client holds open) forever.
    this.openTimer = setTimeout(
      () =>
        this.enqueue(async () => {
          if (this.state === 'new')
            throw new NodeStatusError(
              ForwardReason.OPEN_TIMEOUT,
              'deadline_exceeded',
              `no Open within ${ctx.openTimeoutMs} ms of the stream's start; send Open first`,
            );
        }),
      ctx.openTimeoutMs,
    );
    this.openTimer.unref();
  }

  /**
   * Lets the step in progress finish, then ends the stream UNAVAILABLE so the client moves on. A
   * step still waiting on its next hop after `graceMs` is given up.
   */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    const shuttingDown = new NodeStatusError(
      ForwardReason.NODE_DRAINING,
      'unavailable',
      `node ${this.ctx.key.address} is shutting down; continue the session on another node holding ${formatSpan(this.place?.span ?? this.ctx.held)}`,
    );
    this.enqueue(async () => {
      throw shuttingDown;
    });
    const timer = setTimeout(() => this.link?.cancel(shuttingDown), graceMs);
    await this.queue;
    clearTimeout(timer);
  }

  private get self() {
    return { nodeId: this.ctx.key.address, shardIndex: this.position };
  }

  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(async () => {
      if (this.state === 'done') return;
      try {
        await task();
      } catch (error) {
        this.fail(error);
      }
    });
  }

  private async onRequest(request: ForwardRequest__Output): Promise<void> {
    if (this.parts && request.kind !== 'step')
      throw new NodeStatusError(
        ForwardReason.OUT_OF_SEQUENCE,
        'failed_precondition',
        `${request.kind} came between the parts of step ${this.parts.step}: send its last part first`,
      );
    switch (request.kind) {
      case 'open':
        if (this.state !== 'new')
          throw new NodeStatusError(
            ForwardReason.OUT_OF_SEQUENCE,
            'failed_precondition',
            'session is already open: a Forward stream carries one session',
          );
        return this.handleOpen(request.open!);
      case 'step':
        if (this.state !== 'open')
          throw new NodeStatusError(
            ForwardReason.OUT_OF_SEQUENCE,
            'failed_precondition',
            'step before open: the first message of a Forward stream must be Open',
          );
        if (this.draining) return; // drain() ends the stream next
        if (this.closeRequested)
          throw new NodeStatusError(
            ForwardReason.OUT_OF_SEQUENCE,
            'failed_precondition',
            'step after Close: open a new session to go on',
          );
        return this.handleStep(request.step!);
      case 'close':
        return this.state === 'open' ? this.handleClose() : this.finish();
      case 'reveal':
        if (this.state !== 'open')
          throw new NodeStatusError(
            ForwardReason.OUT_OF_SEQUENCE,
            'failed_precondition',
            'audit reveal before open: the first message of a Forward stream must be Open',
          );
        return this.handleReveal(request.reveal!);
      case 'usage':
        if (this.state !== 'open')
          throw new NodeStatusError(
            ForwardReason.OUT_OF_SEQUENCE,
            'failed_precondition',
            'usage receipt before open: the first message of a Forward stream must be Open',
          );
        return this.handleUsage(request.usage!);
      default:
        throw new NodeStatusError(
          ForwardReason.OUT_OF_SEQUENCE,
          'invalid',
          'request holds neither open, step, close, reveal nor usage',
        );
    }
  }

  private async handleOpen(open: Open__Output): Promise<void> {
    const { ctx } = this;
    // Before the route is checked: a refusal's report names this node at its place in it.
    this.position = Math.max(
      0,
      open.route.findIndex((hop) => hop.nodeId === ctx.key.address),
    );
    if (ctx.isDraining())
      throw new NodeStatusError(
        ForwardReason.NODE_DRAINING,
        'unavailable',
        `node ${ctx.key.address} is shutting down; open the session on another node holding ${formatSpan(ctx.held)}`,
      );
    const unstakingUntilMs = ctx.unstakingUntilMs?.();
    if (unstakingUntilMs !== undefined)
      throw new NodeStatusError(
        ForwardReason.NODE_UNSTAKING,
        'unavailable',
        `node ${ctx.key.address} is unstaking (its stake may be withdrawn from ${new Date(unstakingUntilMs).toISOString()}) and takes no new session; open it on another node holding ${formatSpan(ctx.held)}`,
      );
    const place = checkOpen(open, { nodeId: ctx.key.address, manifest: ctx.manifest, held: ctx.held });
    const { next, previous, position, span } = place;
    if (open.auditCommitment.length !== 0 && open.auditCommitment.length !== AUDIT_SECRET_BYTES) {
      throw new NodeStatusError(
        ForwardReason.INVALID_OPEN,
        'invalid',
        `audit_commitment has ${open.auditCommitment.length} bytes; send the 32-byte sha256 of the audit secret, or none`,
      );
    }
    if (open.auditCommitment.length > 0) {
      this.auditCommitment = open.auditCommitment;
      ctx.audits.checkRoom();
    }
    const peerHost = peerHostOf(this.call.getPeer());
    const peerExempt = previous !== undefined && (await ctx.routes.isPreviousHop(open.modelId, previous, peerHost));
    // A stream cancelled while the registry was asked has released everything already: take nothing more.
    if (this.isDone()) return;
    this.releaseQuota = ctx.quota.acquire({ clientKey: clientKeyHex(open.clientKey), peerHost, peerExempt });
    if (next) await ctx.routes.checkNextHop(open.modelId, next);
    if (this.isDone()) return this.releaseQuota();
    const engine = ctx.engineFor(span);
    this.session = ctx.store.open(open.sessionId, engine.createCache(ctx.cacheBytes), (reason) =>
      this.onEvicted(reason),
    );
    this.open = open;
    this.place = place;
    this.engine = engine;
    this.bounds = { ...ctx.bounds, span };
    if (ctx.shares)
      this.earned = new SessionShares(
        ctx.key,
        position,
        ctx.manifest.modelId,
        open.sessionId,
        clientKeyHex(open.clientKey),
      );
    if (next) {
      this.link = new NextHopLink(ctx.channels.client(next), next, position + 1, open, ctx.nextHopOpenedTimeoutMs);
      await this.link.opened;
    }
    this.state = 'open';
    ctx.log('session_opened', {
      session: open.sessionId,
      position,
      shards: [span.start, span.end],
      next: next?.endpoint,
    });
    this.reply({ opened: { nodeId: ctx.key.address, takesParts: true } });
  }

  /** A method, so that the compiler does not narrow `state` across the awaits that may change it. */
  private isDone(): boolean {
    return this.state === 'done';
  }

  private onEvicted(reason: EvictionReason): void {
    this.ctx.log('session_evicted', { session: this.open?.sessionId, reason });
    this.link?.close();
  }

  private async handleStep(step: Step__Output): Promise<void> {
    const { ctx } = this;
    const session = this.session!;
    ctx.store.touch(session);
    const bounds = this.bounds!;
    const part = validateStep(step, bounds, session.cache.length);
    const parts = this.partsBefore(step, part);
    // A session may replay from position 0 any number of times, each step kept: checked each time.
    if (step.startPosition === 0 && this.auditCommitment) ctx.audits.checkRoom();
    const stepNumber = Number(step.step);
    const H = bounds.hiddenSize;
    const hiddenStep = (startPosition: number, rows: Float32Array) => ({
      step: stepNumber,
      startPosition,
      hidden: { dtype: 'DTYPE_F32' as const, shape: [rows.length / H, H], data: bytesOf(rows) },
    });
    // Rows of this part's output sent on so far: each chunk leaves as soon as it has run, so that the
    // next hop computes it while this node computes the next (Step.partial).
    let sent = 0;
    const nextPart = (rows: Float32Array) => {
      const next = hiddenStep(step.startPosition + sent, rows);
      sent += rows.length / H;
      return next;
    };
    const inParts = this.link?.takesParts === true;
    const partOutput = await this.compute(session, part, step.startPosition, {
      partial: step.partial,
      ...(inParts ? { onChunk: (rows: Float32Array) => this.link!.part(nextPart(rows)) } : {}),
    });
    if (step.partial) {
      this.parts ??= {
        step: stepNumber,
        startPosition: step.startPosition,
        next: step.startPosition,
        dtype: step.hidden?.dtype,
        inputs: [],
        outputs: [],
      };
      this.parts.next += part.positions;
      this.parts.inputs.push(part);
      this.parts.outputs.push(partOutput);
      if (inParts) this.link!.part(nextPart(partOutput.subarray(sent * H)));
      return;
    }
    this.parts = undefined;
    const startPosition = parts?.startPosition ?? step.startPosition;
    const input = parts ? joinedInput([...parts.inputs, part]) : part;
    const output = parts ? concatFloat32([...parts.outputs, partOutput]) : partOutput;
    this.earned?.record(input.positions);
    const outputHash = sha256(bytesOf(output));
    const commitment = (resultHash?: Uint8Array) =>
      commitmentFieldsOf(ctx.key, {
        shardIndex: bounds.span.start,
        shardEnd: bounds.span.end,
        stepId: stepIdOf(session.id, stepNumber),
        inputHash: sha256(input.bytes),
        outputHash,
        ...(this.auditCommitment === undefined ? {} : { auditCommitment: this.auditCommitment }),
        ...(resultHash === undefined ? {} : { resultHash }),
      });

    // what the last hop samples with, as this hop received it and passes it on
    const context = {
      position: startPosition + input.positions,
      sampling: this.open!.sampling ?? DEFAULT_SAMPLING,
      history: step.history,
    };
    if (!this.link) {
      const sampled = sampleAt(output, context.sampling, context.position, context.history);
      const fields = commitment(resultHashOf(sampled, context));
      this.reply({ result: { step: stepNumber, sampled, commitments: [fields] } });
      // The result leaves first (gRPC writes go out when this turn of the event loop ends): the
      // signature follows it, and must precede the next step's result (the rule in node.proto).
      await new Promise((resolve) => setImmediate(resolve));
      const mine = signCommitmentFields(ctx.key, fields);
      this.retainForAudit(startPosition, step, input, mine);
      this.reply({ signatures: { step: stepNumber, signatures: [mine.signature] } });
      return;
    }
    // a next hop that takes no parts gets the step whole
    const downstream = this.link.step({
      ...(inParts ? nextPart(partOutput.subarray(sent * H)) : hiddenStep(startPosition, output)),
      history: step.history,
    });
    // Awaited below; a failure (a next hop that died meanwhile) must not count as unhandled before that.
    downstream.result.catch(() => undefined);
    downstream.signatures.catch(() => undefined);
    const fields = commitment();
    const result = await downstream.result;
    checkRelayedResult(result, this.open!.route, this.place!.position, outputHash, context);
    // the previous step's signatures go up before this result does
    await this.signaturesRelayed;
    this.reply({ result: { step: stepNumber, sampled: result.sampled, commitments: [fields, ...result.commitments] } });
    this.signaturesRelayed = this.relaySignatures(
      stepNumber,
      fields,
      result.commitments,
      downstream.signatures,
      (mine) => this.retainForAudit(startPosition, step, input, mine),
    );
  }

  /**
   * Relays the signatures of `step` once the next hop's come and check, this node's first, signed
   * then over the hash of those it relays (it vouches for them: proto/tessera/v1/node.proto, the rule
   * above Node). It runs beside the steps after it (so signing and checking are off the path results
   * take); the next result goes up only after it. A failure ends the stream, naming the next hop.
   */
  private async relaySignatures(
    step: number,
    fields: CommitmentFields,
    relayed: readonly Commitment__Output[],
    signatures: Promise<StepSignatures__Output>,
    signed: (mine: SignedCommitment) => void,
  ): Promise<void> {
    try {
      const received = await signatures;
      // A next step that reached this node meanwhile goes on first: checking and signing take a while.
      await new Promise((resolve) => setImmediate(resolve));
      const later = checkRelayedSignatures(received, step, relayed, this.open!.route, this.place!.position);
      const mine = signCommitmentFields(this.ctx.key, { ...fields, relayedHash: relayedHashOf(later)! });
      signed(mine);
      this.reply({ signatures: { step, signatures: [mine.signature, ...later] } });
    } catch (error) {
      // an eviction drops the link: the next step or Close answers SESSION_EXPIRED, blaming nobody
      if (!this.session?.evicted) this.fail(error);
    }
  }

  /**
   * Steps from position 0 are what audits recompute (a later one would need every earlier input).
   * Each is kept until the reveal, which says which ones the registry may ever ask for (the
   * commitment binds the session's secret); without an audit commitment nothing can be asked.
   */
  private retainForAudit(
    startPosition: number,
    step: Step__Output,
    input: StepInput,
    commitment: SignedCommitment,
  ): void {
    if (startPosition === 0 && this.auditCommitment) this.ctx.audits.retain(this.auditKey, step, input, commitment);
  }

  /**
   * The parts of `step` received before this one (none: `step` is its first or only part); refuses
   * a part that does not continue them, and parts that together carry more than a step may.
   */
  private partsBefore(step: Step__Output, part: StepInput): StepParts | undefined {
    const parts = this.parts;
    if (parts === undefined) return undefined;
    const outOfSequence = (what: string) =>
      new NodeStatusError(
        ForwardReason.OUT_OF_SEQUENCE,
        'failed_precondition',
        `step ${parts.step} came in parts and its last part has not come: ${what}`,
      );
    if (Number(step.step) !== parts.step) throw outOfSequence(`then came step ${step.step}`);
    if (step.startPosition !== parts.next)
      throw outOfSequence(`its next part must start at position ${parts.next}, not ${step.startPosition}`);
    if (step.hidden && step.hidden.dtype !== parts.dtype)
      throw new NodeStatusError(
        ForwardReason.INVALID_STEP,
        'invalid',
        `a part of step ${parts.step} holds ${step.hidden.dtype}, its first held ${parts.dtype}: send every part in one dtype`,
      );
    const positions = parts.next - parts.startPosition + part.positions;
    if (positions > this.ctx.bounds.maxStepPositions)
      throw new NodeStatusError(
        ForwardReason.INVALID_STEP,
        'invalid',
        `step ${parts.step} carries ${positions} positions over its parts, this node takes at most ${this.ctx.bounds.maxStepPositions} per step`,
      );
    return parts;
  }

  /** Checks the secret, tickets the steps it selects here, and passes it on down the route. */
  private handleReveal(reveal: AuditReveal__Output): void {
    if (!this.auditCommitment)
      throw new NodeStatusError(
        ForwardReason.INVALID_AUDIT_REVEAL,
        'failed_precondition',
        'audit secret revealed for a session opened without an audit commitment',
      );
    if (this.revealed)
      throw new NodeStatusError(
        ForwardReason.INVALID_AUDIT_REVEAL,
        'failed_precondition',
        'the audit secret was already revealed for this session',
      );
    this.ctx.audits.reveal(this.auditKey, this.auditCommitment, reveal.secret);
    this.revealed = true;
    this.link?.reveal(reveal.secret);
  }

  /** Turns the steps the client's receipt covers into shares, and passes the receipt on down the route. */
  private handleUsage(usage: UsageAttestation__Output): void {
    if (!usage.receipt)
      throw new NodeStatusError(ForwardReason.INVALID_USAGE_RECEIPT, 'invalid', 'usage attestation without a receipt');
    const receipt = { payload: usage.receipt.payload, signature: usage.receipt.signature };
    if (this.earned) {
      const shares = this.earned.attest(receipt);
      if (shares.length > 0) this.ctx.shares!.add(shares, receipt);
    }
    this.link?.attest(receipt);
  }

  /** A stream the client cancelled meanwhile takes no more replies. */
  private reply(message: ForwardReply): void {
    if (this.state !== 'done') this.call.write(message);
  }

  /** Runs the hop's layers; engine errors become statuses, never a crash. */
  private async compute(
    session: Session,
    input: StepInput,
    startPosition: number,
    parts: Pick<StepRequest, 'partial' | 'onChunk'>,
  ): Promise<Float32Array> {
    const { ctx } = this;
    const { config } = ctx.manifest;
    const engine = this.engine!;
    const layers = engine.range.end - engine.range.start;
    ctx.store.makeRoom(session, layers * config.kvHeads * config.headDim * 8 * (startPosition + input.positions));
    let result;
    try {
      result = await ctx.batcher.run({
        engine,
        cache: session.cache,
        input: 'tokens' in input ? { tokens: input.tokens } : { hidden: input.hidden },
        startPos: startPosition,
        pipelineDepth: this.open!.route.length,
        ...parts,
      });
    } catch (error) {
      if (session.evicted) throw sessionExpired(session.id);
      if (error instanceof EngineInputError)
        throw new NodeStatusError(ForwardReason.INVALID_STEP, 'invalid', error.message);
      if (error instanceof CacheFullError)
        throw new NodeStatusError(ForwardReason.CACHE_FULL, 'resource_exhausted', error.message);
      throw error;
    } finally {
      ctx.store.account(session);
    }
    ctx.recordCompute(result.computeMicroseconds, input.positions, startPosition, layers);
    return result.output;
  }

  /**
   * Close: the signatures still owed go up (the next hop's first: it answers Close with them), then
   * Closed. A second Close asks for nothing more.
   */
  private async handleClose(): Promise<void> {
    if (this.closeRequested) return;
    this.closeRequested = true;
    try {
      if (this.link) await this.link.requestClose();
      await this.signaturesRelayed;
    } finally {
      // evicted meanwhile (the link dropped, signatures lost): SESSION_EXPIRED, as a step would get
      this.ctx.store.touch(this.session!);
    }
    this.reply({ closed: {} });
  }

  /** The client half-closed (or Close came before Open): end the session here and downstream. */
  private finish(): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.link?.close();
    this.release();
    this.call.end();
  }

  /** The client cancelled: nothing more can be sent. */
  private abort(): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.link?.cancel();
    this.release();
  }

  private fail(error: unknown): void {
    if (this.state === 'done') return;
    this.state = 'done';
    if (!(error instanceof TesseraError || error instanceof PassThroughStatus))
      this.ctx.log('session_error', { session: this.open?.sessionId, error: (error as Error)?.stack ?? String(error) });
    this.link?.cancel();
    this.release();
    this.call.emit(
      'error',
      toStatus(error, this.self, (failed, reason) => this.report(failed, reason)),
    );
  }

  /** This node's signed word that `failed` (itself or its next hop) ended the session. */
  private report(failed: FailedHop, reason: string): Buffer {
    return signFailureReport(this.ctx.key, {
      failedNode: failed.nodeId,
      failedShard: failed.shardIndex,
      reason: reason.slice(0, 64),
      sessionHash: sessionDigestOf(this.sessionId),
      timestampMs: Date.now(),
    });
  }

  private release(): void {
    clearTimeout(this.openTimer);
    if (this.session) {
      if (!this.session.evicted) this.ctx.batcher.cancel(this.session.cache);
      this.ctx.store.release(this.session);
    }
    this.releaseQuota?.();
    this.onDone(this);
  }
}

/** A step's parts as one input: the bytes its commitment hashes are the parts' bytes in order. */
function joinedInput(parts: readonly StepInput[]): StepInput {
  const positions = parts.reduce((sum, p) => sum + p.positions, 0);
  const bytes = Buffer.concat(parts.map((p) => p.bytes));
  const tokens = parts.flatMap((p) => ('tokens' in p ? p.tokens : []));
  if (tokens.length === positions) return { tokens, positions, bytes };
  return {
    hidden: concatFloat32(parts.map((p) => ('hidden' in p ? p.hidden : new Float32Array(0)))),
    positions,
    bytes,
  };
}

const DEFAULT_SAMPLING = { temperature: 0, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, seed: 0, logprobs: 0 };
