import { hex, sha256 } from '../crypto/hash.ts';
import type { Logger } from '../core/log.ts';
import { status, type handleUnaryCall, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { verifyCommitment } from '../protocol/commitment.ts';
import { ENGINE_VERSION } from '../model/engine-version.ts';
import { RecomputePool } from '../audit/recompute-pool.ts';
import { isAudited, secretBindingProblem } from '../protocol/audit-selection.ts';
import {
  checkFraudProofSignature,
  commitmentFromJson,
  openRequest,
  signerOf,
  type AuditRequest,
  type CompleteRequest,
  type HeldShardClaim,
  type Request,
} from '../protocol/audit-statements.ts';
import {
  AuditError,
  blankedForLease,
  checkTicketAgainstManifest,
  commitmentFromProto,
  openTicket,
  ticketIdOf,
  type OpenedTicket,
} from '../protocol/ticket.ts';
import { formatSpan, spanContains, spanOf, spanProblem } from '../model/shards/span.ts';
import type { Commitment__Output } from '../proto/tessera/v1/Commitment.ts';
import type { Ticket } from '../proto/tessera/v1/Ticket.ts';
import { randomBytes } from 'node:crypto';
import { tessera } from '../proto/services.ts';
import type { AuditHandlers } from '../proto/tessera/v1/Audit.ts';
import type { FraudProof__Output } from '../proto/tessera/v1/FraudProof.ts';
import type { CompleteTicketsReply } from '../proto/tessera/v1/CompleteTicketsReply.ts';
import type { FraudProofReply } from '../proto/tessera/v1/FraudProofReply.ts';
import type { OwedAudit } from '../proto/tessera/v1/OwedAudit.ts';
import type { PullTicketsReply } from '../proto/tessera/v1/PullTicketsReply.ts';
import type { RequestAuditReply } from '../proto/tessera/v1/RequestAuditReply.ts';
import type { Signed__Output } from '../proto/tessera/v1/Signed.ts';
import type { SubmitTicketReply } from '../proto/tessera/v1/SubmitTicketReply.ts';
import type { Ticket__Output } from '../proto/tessera/v1/Ticket.ts';
import { canonicalJson } from '../crypto/canonical-json.ts';
import { AuditStore, type HeldSpan, type OpenRequest, type ProofStatus } from './audit-store.ts';
import type { ClusterConfig, ServedModel } from './cluster-config.ts';
import type { RegistryStore } from './store.ts';
import { checkNonce, checkTimestamp, rememberNonce } from './admission.ts';
import { TesseraError } from '../core/errors.ts';
import { ticketSigner } from '../protocol/ticket-signature.ts';
import type { StakeReader } from './stake-gate.ts';
import { toStatusObject } from '../rpc/status.ts';
import { takesPrompt, TICKET_HOLDS_PROMPT } from '../audit/prompt-shard.ts';
import { SettlementStore } from './settlement-store.ts';
import { drawValidators, type Candidate } from './validator-draw.ts';

/**
 * Where slashed stake is taken: the settlement back end's slash() (src/escrow's SettlementBackend
 * fits). Refusals are EscrowErrors whose `code` is the contract's error name.
 */
export interface StakeSlasher {
  slash(node: string, fractionBps: number, evidenceHash: `0x${string}`): Promise<bigint>;
}

export interface AuditServiceOptions {
  readonly store: RegistryStore;
  readonly config: ClusterConfig;
  readonly settlement?: StakeSlasher;
  readonly log: Logger;
  /** Takes the signer's per-key rate token for a signed call (throws RATE_LIMITED), before anything is written. */
  readonly takeKey?: (method: string, key: string) => void;
  /** Where bonds are read: given, only verifiers staked at least max(stake.minimum.verifier, 1) file proofs and lease tickets. */
  readonly stakes?: StakeReader;
  /** Fraud-proof recomputation threads (default and most: cores − 1, at least 1). */
  readonly recomputeThreads?: number;
  /** Most fraud proofs one verifier may have waiting for recomputation (default 4). */
  readonly maxProofsPerVerifier?: number;
}

/** Most tickets held back from leases as canary sources at once, and for how long at most when unused. */
const MAX_CANARY_RESERVE = 64;
const CANARY_HOLD_MS = 10_000;
/** Most tickets one pull leases, and the most ticket bytes one reply carries. */
const MAX_PULL = 64;
const MAX_PULL_BYTES = 32 * 1024 * 1024;
const BPS = 10_000;
/** How long a verifier's stake, once read, stands for the ticket draw. */
const STAKE_CACHE_MS = 1_000;
/** Most owed audits one heartbeat reply hands a node (about 100 bytes each). */
const MAX_OWED_PER_HEARTBEAT = 64;

// Functions, not constants: the services load on first use (src/proto/services.ts), not at import.
const ticketCodec = () => tessera.v1.Audit.service.SubmitTicket;
/** The Audit method each signed request kind arrives on: its per-key rate bucket. */
const METHOD_OF_KIND: Readonly<Record<Request['kind'], string>> = {
  'pull-tickets': 'PullTickets',
  'complete-tickets': 'CompleteTickets',
  'audit-request': 'RequestAudit',
};
const proofCodec = () => tessera.v1.Audit.service.SubmitFraudProof;

/**
 * The Audit service (docs/ARCHITECTURE.md §6) over the registry's database: a durable ticket queue with
 * leases, audited passes, fraud proofs (checked, then confirmed by recomputing the ticket here), the
 * slashing and eviction that follow, and clients' audit requests. A ticket names the span of shards
 * its commitment signs, and is recomputed over exactly that span. The steps of a span from shard 0
 * hold the prompt: no ticket or request of them is taken (TICKET_HOLDS_PROMPT); only a client's
 * evidence against such a node brings one step's input here (§10).
 *
 * Confirmation: the registry recomputes the ticket itself over its span, with the span's shard files
 * beside its manifest. That is the strongest check a single party can make (no verifier's word is
 * taken). It runs on a bounded worker pool with a bounded share per verifier
 * (src/audit/recompute-pool.ts), only for staked verifiers, and a proof it contradicts slashes its
 * verifier: a burst of fabricated proofs costs its filer stake and never the registry's event loop.
 * A registry without a file of the span, or of another engine version, keeps the proof unconfirmed
 * (and slashes no one).
 */
export class AuditService {
  readonly audits: AuditStore;
  private readonly pool: RecomputePool;
  private slashing: Promise<void> = Promise.resolve();
  private readonly settlements: SettlementStore;
  /** Verifiers' stakes as last read, so that one pull does not read every verifier's bond again. */
  private readonly stakeCache = new Map<string, { stake: bigint; readAtMs: number }>();

  constructor(private readonly options: AuditServiceOptions) {
    this.audits = new AuditStore(options.store.database);
    this.settlements = new SettlementStore(options.store.database);
    this.pool = new RecomputePool({
      ...(options.recomputeThreads === undefined ? {} : { threads: options.recomputeThreads }),
      maxPerOwner: options.maxProofsPerVerifier ?? 4,
    });
    // Kept by a registry from before clients checked shard 0 themselves: a prompt in clear that no
    // verifier, and no one at the registry, is to read any more. A ticket a proof names stays as its evidence.
    const dropped = this.audits.dropPromptTickets();
    if (dropped > 0) options.log('prompt_tickets_dropped', { tickets: dropped });
    // A node can answer only while the registry is up (it learns its requests from heartbeat
    // replies, and tickets come here): a deadline runs out only after a whole deadline of uptime.
    const extended = this.audits.extendOpenRequests(Date.now() + options.config.audit.ticketDeadlineMs);
    if (extended > 0)
      options.log('audit_deadlines_extended', {
        requests: extended,
        ticketDeadlineMs: options.config.audit.ticketDeadlineMs,
      });
  }

  /** Stops the recompute workers: proofs still being recomputed are refused SHUTTING_DOWN, so no call holds up a stop. */
  close(): Promise<void> {
    return this.pool.close();
  }

  /** What a node owes: its open audit requests, earliest due first, for its heartbeat reply. */
  owedTo(nodeId: string): OwedAudit[] {
    return this.audits.openRequestsFor(nodeId, MAX_OWED_PER_HEARTBEAT).flatMap((open) => {
      const request = JSON.parse(open.request.toString('utf8')) as AuditRequest;
      // An old request of the prompt shard: answering it would send the prompt here.
      if (takesPrompt(request.commitment.shardIndex)) return [];
      return {
        stepId: Buffer.from(request.commitment.stepId, 'hex'),
        shardIndex: request.commitment.shardIndex,
        // a request stored before spans named one shard
        shardEnd: request.commitment.shardEnd ?? request.commitment.shardIndex + 1,
        secret: Buffer.from(request.secret, 'hex'),
        dueByMs: open.dueByMs,
        ticketId: open.ticketId,
      };
    });
  }

  /**
   * Decides, once each, the refusal of every audit request past its deadline with no ticket, and
   * slashes it by `stake.slashFractions.auditRefusal`. The evidence is the client's stored request:
   * the node's signed commitment and the secret that selects it (both checked again here, against
   * the cluster's rate now), and the deadline. Excused, with no slash: a node banned before the
   * deadline (the registry refused its tickets), a request that no longer proves anything, or one
   * whose deadline the registry's downtime pushed past the time the node must keep the step.
   */
  async decideRefusals(nowMs: number): Promise<void> {
    const { store, config, log } = this.options;
    const fractionBps = Math.round(config.stake.slashFractions.auditRefusal * BPS);
    let slashes = 0;
    for (const overdue of this.audits.overdueRequests(nowMs)) {
      const excuse = this.refusalExcuse(overdue);
      const evidenceId = refusalEvidenceId(overdue);
      const slashed = excuse === '' && fractionBps > 0;
      const decided = store.transaction(() => {
        if (
          !this.audits.addRefusal({
            ticketId: overdue.ticketId,
            nodeId: overdue.nodeId,
            evidenceId,
            fractionBps: slashed ? fractionBps : 0,
            excuse,
            atMs: nowMs,
          })
        )
          return false;
        if (slashed) this.audits.decideSlash(evidenceId, overdue.nodeId, fractionBps);
        return true;
      });
      if (!decided) continue;
      if (slashed) slashes++;
      log('audit_refusal', {
        nodeId: overdue.nodeId,
        ticketId: overdue.ticketId,
        dueByMs: overdue.dueByMs,
        evidenceId,
        fractionBps: slashed ? fractionBps : 0,
        ...(excuse === '' ? {} : { excuse }),
      });
    }
    if (slashes > 0) await this.applyPendingSlashes();
  }

  private refusalExcuse(overdue: OpenRequest): string {
    const ban = this.audits.banOf(overdue.nodeId);
    if (ban && ban.atMs <= overdue.dueByMs)
      return `the node was banned before the deadline (proof ${ban.proofId}), so its tickets were refused`;
    const request = JSON.parse(overdue.request.toString('utf8')) as AuditRequest;
    const commitment = commitmentFromJson(request.commitment);
    if (takesPrompt(commitment.shardIndex))
      return `the steps of ${formatSpan(spanOf(commitment))} are checked by their clients: their tickets would hold a prompt, so none is owed`;
    if (!verifyCommitment(commitment)) return 'the stored commitment is not signed by the node';
    const unbound = secretBindingProblem(commitment, Buffer.from(request.secret, 'hex'));
    if (unbound !== undefined) return unbound;
    const { audit } = this.options.config;
    if (!isAudited(Buffer.from(request.secret, 'hex'), commitment, audit.samplingRate)) {
      return `the secret no longer selects the step at the cluster's sampling rate ${audit.samplingRate}`;
    }
    // Normally a deadline falls within the request window plus the ticket deadline of the commitment;
    // only a deadline moved past the registry's downtime falls later, past what the node must keep.
    const keptUntilMs = commitment.timestampMs + audit.requestWindowMs + audit.ticketDeadlineMs;
    if (overdue.dueByMs > keptUntilMs) {
      return `the deadline moved past the registry's downtime to ${new Date(overdue.dueByMs).toISOString()}, after ${new Date(keptUntilMs).toISOString()}, until when the node must keep the step`;
    }
    return '';
  }

  /** Returns held-back canary sources to the queue once they can no longer serve (on the registry's timer). */
  releaseCanaryReserve(nowMs: number): void {
    const released = this.audits.releaseCanaryReserve(
      nowMs,
      Math.min(CANARY_HOLD_MS, this.options.config.audit.leaseMs),
    );
    if (released > 0) this.options.log('canary_reserve_released', { tickets: released });
  }

  /** Why a node may not register or heartbeat, or undefined. */
  banReason(nodeId: string): string | undefined {
    const ban = this.audits.banOf(nodeId);
    return (
      ban &&
      `node ${nodeId} was slashed and evicted for fraud (proof ${ban.proofId}, ${new Date(ban.atMs).toISOString()}); it may not rejoin`
    );
  }

  /** Applies slashes decided but not yet taken (after a restart, or a back end that was down). */
  applyPendingSlashes(): Promise<void> {
    this.slashing = this.slashing.then(async () => {
      const { settlement, log } = this.options;
      if (!settlement) return;
      for (const pending of this.audits.pendingSlashes()) {
        try {
          const amount = await settlement.slash(pending.nodeId, pending.fractionBps, `0x${pending.proofId}`);
          this.audits.slashApplied(pending.proofId, amount, '', Date.now());
          log('node_slashed', {
            nodeId: pending.nodeId,
            proofId: pending.proofId,
            fractionBps: pending.fractionBps,
            amount: amount.toString(),
          });
        } catch (error) {
          const code = (error as { code?: unknown }).code;
          if (code === 'NoStake') this.audits.slashApplied(pending.proofId, 0n, 'the node has no stake', Date.now());
          else if (code === 'EvidenceAlreadyUsed')
            this.audits.slashApplied(pending.proofId, null, 'the back end had already applied this proof', Date.now());
          else
            log('slash_failed', { nodeId: pending.nodeId, proofId: pending.proofId, error: (error as Error).message });
        }
      }
    });
    return this.slashing;
  }

  handlers(): AuditHandlers {
    return {
      SubmitTicket: this.unary((ticket, call) => this.submitTicket(ticket, submitterOf(call.getPeer()))),
      PullTickets: this.unary((signed) => this.pullTickets(signed)),
      CompleteTickets: this.unary((signed) => this.completeTickets(signed)),
      SubmitFraudProof: this.unary((proof) => this.submitFraudProof(proof)),
      RequestAudit: this.unary((signed) => this.requestAudit(signed)),
      GetAuditStatus: this.unary(async (request) => this.audits.counts(request.nodeId, Date.now())),
    };
  }

  /** Every refusal is a TesseraError (an AuditError is one, with its reason); anything else is INTERNAL and logged. */
  private unary<Req, Reply>(
    work: (request: Req, call: ServerUnaryCall<Req, Reply>) => Promise<Reply>,
  ): handleUnaryCall<Req, Reply> {
    return (call: ServerUnaryCall<Req, Reply>, callback: sendUnaryData<Reply>) => {
      work(call.request, call).then(
        (reply) => callback(null, reply),
        (error: unknown) => {
          if (error instanceof TesseraError) {
            this.options.log('audit_refused', { peer: call.getPeer(), code: error.code, reason: error.message });
          } else {
            this.options.log('internal_error', { error: (error as Error)?.stack ?? String(error) });
          }
          callback(toStatusObject(error) as never);
        },
      );
    };
  }

  private model(modelId: string): ServedModel {
    const model = this.options.config.models.find((m) => m.id === modelId);
    if (!model)
      throw new AuditError(status.NOT_FOUND, 'UNKNOWN_MODEL', `model "${modelId}" is not served by this registry`);
    return model;
  }

  /** Opens a ticket and checks everything it claims that this registry can check without computing. */
  private async checkTicket(ticket: Ticket__Output | null): Promise<OpenedTicket> {
    if (!ticket) throw new AuditError(status.INVALID_ARGUMENT, 'TICKET_MISSING', 'no ticket');
    const opened = await openTicket(ticket, this.options.config.audit.maxTicketBytes);
    checkTicketAgainstManifest(opened, this.model(opened.modelId).manifest);
    const node = this.options.store.node(opened.commitment.nodeId);
    if (!node || node.role !== 'node')
      throw new AuditError(
        status.NOT_FOUND,
        'NODE_NOT_REGISTERED',
        `node ${opened.commitment.nodeId} is not registered here`,
      );
    // A node serves any span of the span it holds: its ticket must lie within that.
    const held = spanOf(node);
    if (node.modelId !== opened.modelId || !spanContains(held, spanOf(opened))) {
      throw new AuditError(
        status.INVALID_ARGUMENT,
        'TICKET_WRONG_SHARD',
        `node ${node.nodeId} holds ${formatSpan(held)} of "${node.modelId}", the ticket is for ${formatSpan(spanOf(opened))} of "${opened.modelId}"`,
      );
    }
    return opened;
  }

  private async submitTicket(ticket: Ticket__Output, submitter: string): Promise<SubmitTicketReply> {
    const opened = await this.checkTicket(ticket);
    if (opened.input.tokens || takesPrompt(opened.shardIndex))
      throw new TesseraError(
        TICKET_HOLDS_PROMPT,
        'failed_precondition',
        `a ticket of ${formatSpan(spanOf(opened))} holds the prompt's token ids: it is never queued (no verifier and no registry may read a prompt); the session's client checks that hop itself`,
      );
    const { audits } = this;
    const { config } = this.options;
    this.checkSelectedAndSigned(ticket, opened);
    if (opened.engineVersion !== ENGINE_VERSION) {
      throw new AuditError(
        status.FAILED_PRECONDITION,
        'ENGINE_VERSION_MISMATCH',
        `ticket was computed by ${opened.engineVersion}; this registry audits ${ENGINE_VERSION}: run that engine version`,
      );
    }
    const nodeId = opened.commitment.nodeId;
    const banned = this.banReason(nodeId);
    if (banned) throw new AuditError(status.PERMISSION_DENIED, 'NODE_BANNED', banned);
    const existing = audits.ticketStatus(opened.ticketId);
    if (existing)
      throw new AuditError(
        status.ALREADY_EXISTS,
        'TICKET_ALREADY_HELD',
        `ticket ${opened.ticketId} (node ${nodeId}, ${formatSpan(spanOf(opened))}) is already held (${existing.status}); each commitment is audited once`,
      );
    // The commitment's signature is checked (checkTicket): charged to that node, but only for a
    // ticket not held yet, so a replay of the node's public tickets cannot spend its bucket.
    this.options.takeKey?.('SubmitTicket', nodeId);
    if (audits.queuedFor(nodeId) >= config.audit.maxQueuedPerNode) {
      throw new AuditError(
        status.RESOURCE_EXHAUSTED,
        'NODE_QUEUE_FULL',
        `node ${nodeId} already has ${config.audit.maxQueuedPerNode} tickets waiting for a verifier; retry later`,
      );
    }
    const perSubmitter = config.audit.maxQueuedPerSubmitter;
    if (audits.queuedFrom(submitter) >= perSubmitter) {
      throw new TesseraError(
        'SUBMITTER_QUEUE_FULL',
        'resource_exhausted',
        `${perSubmitter} tickets from ${submitter} are already waiting for a verifier; retry later`,
      );
    }
    const added = audits.addTicket(
      {
        ticketId: opened.ticketId,
        submitter,
        nodeId,
        modelId: opened.modelId,
        shardIndex: opened.shardIndex,
        shardEnd: opened.shardEnd,
        engineVersion: opened.engineVersion,
        ticket: ticketCodec().requestSerialize(ticket),
        committedOutputHash: hex(opened.commitment.outputHash),
      },
      Date.now(),
    );
    if (!added)
      throw new AuditError(
        status.ALREADY_EXISTS,
        'TICKET_ALREADY_HELD',
        `ticket ${opened.ticketId} is already held; each commitment is audited once`,
      );
    if (Math.random() < config.audit.canaryRate && audits.reservedForCanaries() < MAX_CANARY_RESERVE)
      audits.reserveForCanary(opened.ticketId);
    this.options.log('ticket_queued', {
      ticketId: opened.ticketId,
      nodeId,
      modelId: opened.modelId,
      shards: formatSpan(spanOf(opened)),
      positions: opened.input.positions,
      bytes: opened.compressedBytes,
    });
    return { ticketId: opened.ticketId };
  }

  /**
   * Only a step the session's revealed secret selects may be queued, and only by the node that
   * committed to it: anyone else holding the commitment (the client, a later hop) could otherwise
   * fill the node's queue and push out the tickets it owes. Both are checked before anything is
   * written or any rate token taken.
   */
  private checkSelectedAndSigned(ticket: Ticket__Output, opened: OpenedTicket): void {
    const { commitment } = opened;
    const secret = ticket.auditSecret;
    const unselected = this.unselectedReason(secret, commitment);
    if (unselected !== undefined)
      throw new TesseraError(
        'TICKET_NOT_SELECTED',
        'failed_precondition',
        `${unselected}: no audit asks for this ticket`,
      );
    if (ticket.signature.length === 0)
      throw new TesseraError(
        'TICKET_UNSIGNED',
        'unauthenticated',
        `the ticket is not signed: only node ${commitment.nodeId}, which committed to the step, may submit it`,
      );
    const signer = ticketSigner(
      {
        modelId: opened.modelId,
        shardIndex: opened.shardIndex,
        shardEnd: opened.shardEnd,
        shardSha256: opened.shardSha256,
        engineVersion: opened.engineVersion,
        commitment,
        auditSecret: secret,
      },
      ticket.signature,
    );
    if (signer !== commitment.nodeId)
      throw new TesseraError(
        'TICKET_WRONG_SIGNER',
        'permission_denied',
        `the ticket is signed by ${signer ?? 'a malformed signature'}, not by node ${commitment.nodeId}, which committed to the step`,
      );
  }

  /** Why `secret` does not select the committed step at the cluster's rate, or undefined when it does. */
  private unselectedReason(secret: Uint8Array, commitment: OpenedTicket['commitment']): string | undefined {
    const { samplingRate } = this.options.config.audit;
    if (secret.length !== 32) return `the ticket carries no 32-byte audit secret (${secret.length} bytes)`;
    return (
      secretBindingProblem(commitment, secret) ??
      (isAudited(secret, commitment, samplingRate)
        ? undefined
        : `the secret does not select this step of ${formatSpan(spanOf(commitment))} at the cluster's sampling rate ${samplingRate}`)
    );
  }

  /**
   * Checks a signed request's freshness and nonce, and (for verifiers) that its signer is a
   * registered verifier. `apply` runs in the transaction that records the nonce, so a refused
   * request leaves no trace.
   */
  private fresh<R extends Request, T>(request: R, apply: () => T): T {
    const { config } = this.options;
    const nowMs = Date.now();
    const signed = { nodeId: signerOf(request), timestampMs: request.timestampMs, nonce: request.nonce };
    checkNonce(this.options, signed, request.kind);
    return this.options.store.transaction(() => {
      const result = apply();
      rememberNonce({ store: this.options.store, config }, signed, nowMs);
      return result;
    });
  }

  /**
   * Right after the signature: the signer's per-key token and the timestamp, before any costlier
   * check (a commitment's signature, a database read), so a flooding key is stopped cheaply.
   */
  private admitSigner<R extends Request>(request: R): R {
    const signer = signerOf(request);
    this.options.takeKey?.(METHOD_OF_KIND[request.kind], signer);
    checkTimestamp(
      this.options,
      { nodeId: signer, timestampMs: request.timestampMs, nonce: request.nonce },
      Date.now(),
      request.kind,
    );
    return request;
  }

  /**
   * Only a verifier with something to lose may lease tickets or make the registry recompute: its
   * stake answers for passes it did not compute (canaries) and for proofs the registry refutes.
   */
  private async checkStaked(verifierId: string, reason = 'VERIFIER_NOT_STAKED'): Promise<void> {
    const { stakes, config } = this.options;
    if (stakes === undefined) return;
    const minimum = config.stake.minimum.verifier > 1n ? config.stake.minimum.verifier : 1n;
    let stake;
    try {
      stake = await stakes.stakeOf(verifierId);
    } catch (error) {
      throw new TesseraError('STAKES_UNAVAILABLE', 'unavailable', `stakes cannot be read: ${(error as Error).message}`);
    }
    if (stake.amount < minimum || stake.unstakingUntilMs !== undefined)
      throw new TesseraError(
        reason,
        'permission_denied',
        `${reason === 'VERIFIER_NOT_STAKED' ? 'verifier' : 'filer'} ${verifierId} has stake ${stake.amount}${stake.unstakingUntilMs === undefined ? '' : ' and is unstaking'}; ${reason === 'VERIFIER_NOT_STAKED' ? 'auditing' : 'filing evidence'} needs at least ${minimum} bonded, as a verifier's (\`tessera stake\`, or a grant from the cluster's operator)`,
      );
  }

  private checkVerifier(verifierId: string): void {
    const node = this.options.store.node(verifierId);
    if (!node || node.role !== 'verifier')
      throw new AuditError(
        status.PERMISSION_DENIED,
        'NOT_A_VERIFIER',
        `${verifierId} is not a registered verifier: register with role "verifier" first`,
      );
    if (node.status !== 'live')
      throw new AuditError(
        status.PERMISSION_DENIED,
        'VERIFIER_EVICTED',
        `verifier ${verifierId} was evicted after missed heartbeats: register again`,
      );
  }

  private async pullTickets(signed: Signed__Output): Promise<PullTicketsReply> {
    const request = this.admitSigner(openRequest('pull-tickets', signed));
    this.checkVerifier(request.verifierId);
    await this.checkStaked(request.verifierId);
    const held = this.heldSpans(request.shards);
    const nowMs = Date.now();
    const { leaseMs } = this.options.config.audit;
    const drawn = this.drawnFor(request.verifierId, await this.verifierCandidates(nowMs), nowMs);
    const leased = this.fresh(request, () => {
      const real = this.audits.lease(
        request.verifierId,
        held,
        request.engineVersion,
        Math.min(request.max, MAX_PULL),
        nowMs,
        leaseMs,
        MAX_PULL_BYTES,
        drawn,
      );
      const tickets = real.map((row) => ({
        ticketId: row.ticketId,
        ticket: blankedForLease(ticketCodec().requestDeserialize(row.ticket) as Ticket__Output),
        leaseUntilMs: row.leaseUntilMs,
      }));
      const canaries = this.mixCanaries(request.verifierId, held, request.engineVersion, real.length, nowMs);
      return shuffled([...tickets, ...canaries]);
    });
    if (leased.length > 0)
      this.options.log('tickets_leased', { verifierId: request.verifierId, tickets: leased.length });
    return { tickets: leased };
  }

  /**
   * The runs of shards a verifier holds every file of (each claimed file's hash must be the
   * manifest's): it may lease the tickets whose span lies within one. The prompt shard is left out,
   * as no ticket of a span from it is queued.
   */
  private heldSpans(claims: readonly HeldShardClaim[]): HeldSpan[] {
    const spans: HeldSpan[] = [];
    for (const model of this.options.config.models) {
      const held = new Set(
        claims
          .filter(
            (c) =>
              c.modelId === model.id &&
              model.manifest.shards[c.shardIndex]?.sha256 === c.shardSha256 &&
              !takesPrompt(c.shardIndex),
          )
          .map((c) => c.shardIndex),
      );
      for (let start = 0; start < model.manifest.shards.length; start++) {
        if (!held.has(start)) continue;
        let end = start + 1;
        while (held.has(end)) end++;
        spans.push({ modelId: model.id, start, end });
        start = end;
      }
    }
    return spans;
  }

  /**
   * Which tickets `verifierId` may lease now: those whose draw (drawValidators over the live staked
   * verifiers, seeded by the latest settled window's hash and the ticket id, so anyone can recompute
   * it) names it among audit.drawnVerifiers, and any ticket that has waited audit.drawGraceMs for
   * its drawn verifiers. A verifier cannot pick the nodes it audits (an accomplice's tickets, say);
   * more stake makes being drawn likelier, never certain.
   */
  private drawnFor(
    verifierId: string,
    candidates: readonly Candidate[],
    nowMs: number,
  ): (ticketId: string, receivedAtMs: number) => boolean {
    const { drawnVerifiers, drawGraceMs } = this.options.config.audit;
    const settled = Buffer.from(this.settlements.latestHash()?.replace(/^0x/, '') ?? '', 'hex');
    return (ticketId, receivedAtMs) =>
      nowMs - receivedAtMs >= drawGraceMs ||
      drawValidators(
        candidates,
        sha256(Buffer.concat([settled, Buffer.from(ticketId, 'utf8')])),
        drawnVerifiers,
      ).includes(verifierId);
  }

  /** Live verifiers with the stake they may audit with (0 below the minimum or unstaking); read at most once a second each. */
  private async verifierCandidates(nowMs: number): Promise<Candidate[]> {
    const { stakes, config } = this.options;
    const ids = this.options.store.liveVerifiers();
    if (stakes === undefined) return ids.map((id) => ({ id, stake: 1n }));
    const minimum = config.stake.minimum.verifier > 1n ? config.stake.minimum.verifier : 1n;
    for (const id of this.stakeCache.keys()) if (!ids.includes(id)) this.stakeCache.delete(id);
    return Promise.all(
      ids.map(async (id) => {
        const cached = this.stakeCache.get(id);
        if (cached !== undefined && nowMs - cached.readAtMs < STAKE_CACHE_MS) return { id, stake: cached.stake };
        const stake = await stakes.stakeOf(id).then(
          (s) => (s.amount >= minimum && s.unstakingUntilMs === undefined ? s.amount : 0n),
          () => 0n,
        );
        this.stakeCache.set(id, { stake, readAtMs: nowMs });
        return { id, stake };
      }),
    );
  }

  /**
   * Canaries beside `real` leased tickets: each real one brings a canary with chance c / (1 − c), so
   * that a share c of the verifier's verdicts are canaries. A canary copies a queued ticket that no
   * verifier has seen yet (so none can know its true output from an earlier lease), with a random
   * committed output hash: the honest verdict is a fraud proof, and a pass shows the verifier
   * reported the committed hash without computing it. Leased tickets carry no node signatures
   * (blankedForLease), so a canary looks like any ticket.
   */
  private mixCanaries(
    verifierId: string,
    held: readonly HeldSpan[],
    engineVersion: string,
    real: number,
    nowMs: number,
  ): { ticketId: string; ticket: Ticket; leaseUntilMs: number }[] {
    const c = this.options.config.audit.canaryRate;
    if (c <= 0 || real === 0) return [];
    const chance = c / (1 - c);
    const canaries: { ticketId: string; ticket: Ticket; leaseUntilMs: number }[] = [];
    for (let i = 0; i < real; i++) {
      if (Math.random() >= chance) continue;
      const source = this.audits.canarySource(held, engineVersion);
      if (source === undefined) break;
      const copy = blankedForLease(ticketCodec().requestDeserialize(source.ticket) as Ticket__Output);
      const outputHash = randomBytes(32);
      const ticket: Ticket = { ...copy, commitment: { ...copy.commitment!, outputHash } };
      const canaryId = ticketIdOf(commitmentFromProto(ticket.commitment as Commitment__Output));
      const leaseUntilMs = nowMs + this.options.config.audit.leaseMs;
      this.audits.addCanary({
        canaryId,
        sourceTicketId: source.ticketId,
        verifierId,
        ticket: ticketCodec().requestSerialize(ticket),
        committedOutputHash: hex(outputHash),
        leasedAtMs: nowMs,
        leaseUntilMs,
      });
      canaries.push({ ticketId: canaryId, ticket, leaseUntilMs });
    }
    if (canaries.length > 0) this.options.log('canaries_leased', { verifierId, canaries: canaries.length });
    return canaries;
  }

  private async completeTickets(signed: Signed__Output): Promise<CompleteTicketsReply> {
    const request = this.admitSigner(openRequest('complete-tickets', signed));
    this.checkVerifier(request.verifierId);
    const passedCanaries: string[] = [];
    for (const result of request.results) {
      const canary = this.audits.canary(result.ticketId);
      if (canary !== undefined && canary.verifierId === request.verifierId) {
        if (canary.outcome !== null)
          throw new AuditError(
            status.FAILED_PRECONDITION,
            'TICKET_DECIDED',
            `ticket ${result.ticketId} is already decided`,
          );
        if (canary.committedOutputHash !== result.outputHash)
          throw new AuditError(
            status.INVALID_ARGUMENT,
            'PASS_DIFFERS_FROM_COMMITMENT',
            `ticket ${result.ticketId}: recomputed output hash ${result.outputHash} differs from the committed ${canary.committedOutputHash}: submit a fraud proof instead`,
          );
        passedCanaries.push(result.ticketId);
        continue;
      }
      const ticket = this.audits.ticketStatus(result.ticketId);
      if (!ticket) throw new AuditError(status.NOT_FOUND, 'UNKNOWN_TICKET', `unknown ticket ${result.ticketId}`);
      if (ticket.status !== 'queued')
        throw new AuditError(
          status.FAILED_PRECONDITION,
          'TICKET_DECIDED',
          `ticket ${result.ticketId} is already ${ticket.status}`,
        );
      if (ticket.leaseOwner !== request.verifierId) {
        throw new AuditError(
          status.FAILED_PRECONDITION,
          'TICKET_NOT_LEASED',
          `ticket ${result.ticketId} is ${ticket.leaseOwner === null ? 'not leased' : `leased to ${ticket.leaseOwner}`}: pull it before reporting it`,
        );
      }
      if (ticket.committedOutputHash !== result.outputHash) {
        throw new AuditError(
          status.INVALID_ARGUMENT,
          'PASS_DIFFERS_FROM_COMMITMENT',
          `ticket ${result.ticketId}: recomputed output hash ${result.outputHash} differs from the committed ${ticket.committedOutputHash}: submit a fraud proof instead`,
        );
      }
    }
    if (passedCanaries.length > 0) return this.lazyVerdict(request, passedCanaries);
    const ids = request.results.map((r) => r.ticketId);
    this.fresh(request, () => this.audits.markPassed(ids, request.verifierId, Date.now()));
    return { passed: ids.length };
  }

  /**
   * A verifier reported a canary's altered output hash as the one it recomputed: it did not compute.
   * It is slashed `stake.slashFractions.fraud`; none of this report's passes count, and its passes
   * since the last canary it answered honestly, and the tickets it holds leased, go back to the queue
   * for another verifier.
   */
  private async lazyVerdict(request: CompleteRequest, canaries: readonly string[]): Promise<CompleteTicketsReply> {
    const { config, log } = this.options;
    const verifierId = request.verifierId;
    const fractionBps = Math.round(config.stake.slashFractions.fraud * BPS);
    const nowMs = Date.now();
    const evidenceId = sha256(canonicalJson({ kind: 'canary-pass', canaryId: canaries[0]!, verifierId })).toString(
      'hex',
    );
    const requeued = this.fresh(request, () => {
      const since = this.audits.lastCaughtCanaryMs(verifierId);
      for (const id of canaries) {
        this.audits.answerCanary(id, 'passed', nowMs);
        this.audits.releaseCanarySource(id);
      }
      if (fractionBps > 0) this.audits.decideSlash(evidenceId, verifierId, fractionBps);
      return this.audits.requeuePasses(verifierId, since) + this.audits.releaseLeases(verifierId);
    });
    log('verifier_canary_passed', { verifierId, canaries: canaries.length, evidenceId, fractionBps, requeued });
    await this.applyPendingSlashes();
    return { passed: 0 };
  }

  private async submitFraudProof(proof: FraudProof__Output): Promise<FraudProofReply> {
    const { store, config } = this.options;
    if (!proof.ticket) throw new AuditError(status.INVALID_ARGUMENT, 'TICKET_MISSING', 'no ticket');
    // A leased ticket comes back without the node's signatures: it is named by its commitment, and
    // the registry holds the signed original (or the canary it made).
    const claimed = await openTicket(proof.ticket, config.audit.maxTicketBytes, { requireSignature: false });
    if (claimed.input.tokens || takesPrompt(claimed.shardIndex)) return this.clientEvidence(proof, proof.ticket);
    const canary = this.audits.canary(claimed.ticketId);
    if (canary !== undefined && canary.verifierId === proof.verifierId)
      return this.canaryProof(proof, claimed, canary.committedOutputHash);
    const stored = this.audits.ticketBytes(claimed.ticketId);
    const ticket = await this.checkTicket(
      stored === undefined ? proof.ticket : (ticketCodec().requestDeserialize(stored) as Ticket__Output),
    );
    const recomputed = signedRecomputedHash(proof, ticket);
    const verifier = store.node(proof.verifierId);
    if (!verifier || verifier.role !== 'verifier')
      throw new AuditError(
        status.PERMISSION_DENIED,
        'NOT_A_VERIFIER',
        `${proof.verifierId} is not a registered verifier`,
      );
    await this.checkStaked(proof.verifierId);
    this.checkMismatchNew(ticket, recomputed);
    // Signed by this registered verifier and not a replay: charged before the ticket is recomputed.
    this.options.takeKey?.('SubmitFraudProof', proof.verifierId);
    return this.decideProof(proof, ticket, recomputed);
  }

  /**
   * A client's evidence that shard 0's node committed to a wrong output for a step of its session:
   * the ticket the client built from the prompt it sent (its hash is the one the node signed) and the
   * session's audit secret, which must select the step as any audit. Only someone who holds the
   * prompt can name an input the node signed, and the filer must be staked as a verifier is: evidence
   * the registry's recomputation does not confirm costs its filer `stake.slashFractions.fraud`. The
   * registry reads this one step's prompt, and only from a client that chose to show it.
   */
  private async clientEvidence(proof: FraudProof__Output, wire: Ticket__Output): Promise<FraudProofReply> {
    const ticket = await this.checkTicket(wire);
    const recomputed = signedRecomputedHash(proof, ticket);
    const unselected = this.unselectedReason(wire.auditSecret, ticket.commitment);
    if (unselected !== undefined)
      throw new TesseraError(
        'TICKET_NOT_SELECTED',
        'failed_precondition',
        `${unselected}: only a step the session's audit selects may be reported`,
      );
    await this.checkStaked(proof.verifierId, 'FILER_NOT_STAKED');
    this.checkMismatchNew(ticket, recomputed);
    this.options.takeKey?.('SubmitFraudProof', proof.verifierId);
    return this.decideProof(proof, ticket, recomputed);
  }

  /** Refuses a proof whose hash is the committed one, or whose ticket already has a proof on record. */
  private checkMismatchNew(ticket: OpenedTicket, recomputed: Uint8Array): void {
    const accused = ticket.commitment.nodeId;
    if (Buffer.from(recomputed).equals(ticket.commitment.outputHash)) {
      throw new AuditError(
        status.INVALID_ARGUMENT,
        'NO_MISMATCH',
        `the recomputed output hash equals the one node ${accused} committed to: no mismatch, nothing to prove`,
      );
    }
    const onRecord = this.audits.proofForTicket(ticket.ticketId);
    if (onRecord)
      throw new AuditError(
        status.ALREADY_EXISTS,
        'PROOF_ON_RECORD',
        `a fraud proof against ticket ${ticket.ticketId} is already on record (${onRecord.status}, proof ${onRecord.proofId})`,
      );
  }

  /** Recomputes the ticket and records the verdict: the accused or the filer is slashed. */
  private async decideProof(
    proof: FraudProof__Output,
    ticket: OpenedTicket,
    recomputed: Uint8Array,
  ): Promise<FraudProofReply> {
    const { store, config, log } = this.options;
    const accused = ticket.commitment.nodeId;
    const { status: verdict, registryHash, detail } = await this.confirm(ticket, recomputed, proof.verifierId);
    const proofBytes = proofCodec().requestSerialize(proof);
    const proofId = sha256(proofBytes).toString('hex');
    const fractionBps = Math.round(config.stake.slashFractions.fraud * BPS);
    const nowMs = Date.now();
    store.transaction(() => {
      // Checked again inside the transaction: two proofs of one ticket may have been confirmed at once.
      if (this.audits.proofForTicket(ticket.ticketId))
        throw new AuditError(
          status.ALREADY_EXISTS,
          'PROOF_ON_RECORD',
          `a fraud proof against ticket ${ticket.ticketId} is already on record`,
        );
      this.audits.addProof({
        proofId,
        ticketId: ticket.ticketId,
        accused,
        verifierId: proof.verifierId,
        status: verdict,
        recomputedHash: hex(recomputed),
        registryHash,
        detail,
        proof: proofBytes,
        atMs: nowMs,
      });
      // A proof the registry's own recomputation contradicts cost the registry a recomputation and
      // accused an honest node: its verifier pays, as a node pays for fraud.
      if (verdict === 'refuted' || (verdict === 'unconfirmed' && registryHash !== '')) {
        if (fractionBps > 0) this.audits.decideSlash(proofId, proof.verifierId, fractionBps);
        return;
      }
      if (verdict !== 'confirmed') return;
      this.audits.markProven(ticket.ticketId, proof.verifierId, nowMs);
      this.audits.ban(accused, proofId, nowMs);
      store.evictNode(accused);
      if (fractionBps > 0) this.audits.decideSlash(proofId, accused, fractionBps);
    });
    log('fraud_proof', {
      proofId,
      ticketId: ticket.ticketId,
      accused,
      verifierId: proof.verifierId,
      status: verdict,
      detail,
    });
    if (verdict === 'confirmed' || registryHash !== '') await this.applyPendingSlashes();
    return {
      proofId,
      accused,
      detail,
      status:
        verdict === 'confirmed' ? 'PROOF_CONFIRMED' : verdict === 'refuted' ? 'PROOF_REFUTED' : 'PROOF_UNCONFIRMED',
      // What the accused node lost: a refuted proof's slash is its verifier's (GetAuditStatus of the verifier).
      slashedAmount: verdict === 'confirmed' ? (this.audits.slashAmount(proofId) ?? '') : '',
    };
  }

  /**
   * The honest verdict on a canary: accepted as a confirmed proof would be, and nothing else happens
   * (the copied node committed to no such output).
   */
  private async canaryProof(
    proof: FraudProof__Output,
    ticket: OpenedTicket,
    committedOutputHash: string,
  ): Promise<FraudProofReply> {
    const recomputed = signedRecomputedHash(proof, ticket);
    if (hex(recomputed) === committedOutputHash)
      throw new AuditError(
        status.INVALID_ARGUMENT,
        'NO_MISMATCH',
        `the recomputed output hash equals the one node ${ticket.commitment.nodeId} committed to: no mismatch, nothing to prove`,
      );
    await this.checkStaked(proof.verifierId);
    const proofId = sha256(proofCodec().requestSerialize(proof)).toString('hex');
    const answered = this.options.store.transaction(() => {
      if (!this.audits.answerCanary(ticket.ticketId, 'caught', Date.now())) return false;
      this.audits.releaseCanarySource(ticket.ticketId);
      return true;
    });
    if (!answered)
      throw new AuditError(
        status.ALREADY_EXISTS,
        'PROOF_ON_RECORD',
        `a fraud proof against ticket ${ticket.ticketId} is already on record`,
      );
    this.options.log('canary_caught', { verifierId: proof.verifierId, canaryId: ticket.ticketId, proofId });
    return {
      proofId,
      accused: ticket.commitment.nodeId,
      status: 'PROOF_CONFIRMED',
      detail: "the registry recomputed the verifier's output hash",
      slashedAmount: '',
    };
  }

  /** Recomputes the ticket here: the registry's own answer decides. */
  private async confirm(
    ticket: OpenedTicket,
    recomputed: Uint8Array,
    verifierId: string,
  ): Promise<{ status: ProofStatus; registryHash: string; detail: string }> {
    if (ticket.engineVersion !== ENGINE_VERSION) {
      return {
        status: 'unconfirmed',
        registryHash: '',
        detail: `ticket computed by ${ticket.engineVersion}; this registry runs ${ENGINE_VERSION} and cannot recompute it`,
      };
    }
    const model = this.model(ticket.modelId);
    let ours: Buffer;
    try {
      ours = await this.pool.recompute(verifierId, {
        manifestPath: model.manifestPath,
        manifestJson: model.manifestJson,
        modelId: ticket.modelId,
        span: spanOf(ticket),
        input: ticket.input,
      });
    } catch (error) {
      if (error instanceof TesseraError) throw error;
      return {
        status: 'unconfirmed',
        registryHash: '',
        detail: `the registry cannot recompute ${formatSpan(spanOf(ticket))}: ${(error as Error).message}`,
      };
    }
    const registryHash = ours.toString('hex');
    if (ours.equals(ticket.commitment.outputHash))
      return {
        status: 'refuted',
        registryHash,
        detail: 'the registry recomputed the committed output hash: the verifier is wrong',
      };
    if (ours.equals(recomputed))
      return { status: 'confirmed', registryHash, detail: "the registry recomputed the verifier's output hash" };
    return {
      status: 'unconfirmed',
      registryHash,
      detail: "the registry recomputed a third output hash, neither the committed one nor the verifier's",
    };
  }

  private async requestAudit(signed: Signed__Output): Promise<RequestAuditReply> {
    const { store, config } = this.options;
    const request = this.admitSigner(openRequest('audit-request', signed));
    const commitment = commitmentFromJson(request.commitment);
    if (takesPrompt(commitment.shardIndex))
      throw new TesseraError(
        TICKET_HOLDS_PROMPT,
        'failed_precondition',
        `a ticket of ${formatSpan(spanOf(commitment))} would hold the prompt: no node is asked for one; check the step with the span's weights on the client (\`--audit-shard-zero\`) and file evidence of a mismatch (SubmitFraudProof)`,
      );
    if (!verifyCommitment(commitment))
      throw new AuditError(
        status.UNAUTHENTICATED,
        'COMMITMENT_UNSIGNED',
        `the commitment is not signed by node ${commitment.nodeId}`,
      );
    const secret = Buffer.from(request.secret, 'hex');
    const unbound = secretBindingProblem(commitment, secret);
    if (unbound !== undefined)
      throw new AuditError(status.FAILED_PRECONDITION, 'SECRET_NOT_BOUND', `${unbound}: nothing is owed`);
    if (!isAudited(secret, commitment, config.audit.samplingRate)) {
      throw new AuditError(
        status.FAILED_PRECONDITION,
        'TICKET_NOT_SELECTED',
        `the secret does not select this step of ${formatSpan(spanOf(commitment))} at the cluster's sampling rate ${config.audit.samplingRate}: nothing is owed`,
      );
    }
    // The node keeps a step only as long as requests for it may come (auditRetentionMs): a later one
    // could slash an honest node that already let the step go.
    const nowMs = Date.now();
    const ageMs = nowMs - commitment.timestampMs;
    if (ageMs > config.audit.requestWindowMs) {
      throw new AuditError(
        status.FAILED_PRECONDITION,
        'REQUEST_WINDOW_PASSED',
        `the commitment is dated ${new Date(commitment.timestampMs).toISOString()}, ${Math.round(ageMs / 1000)} s ago, past the cluster's audit request window of ${Math.round(config.audit.requestWindowMs / 1000)} s: node ${commitment.nodeId} no longer owes a ticket for it; request audits right after the session`,
      );
    }
    const node = store.node(commitment.nodeId);
    if (!node || node.role !== 'node')
      throw new AuditError(status.NOT_FOUND, 'NODE_NOT_REGISTERED', `node ${commitment.nodeId} is not registered here`);
    // A span its model does not have could never be ticketed: asking for one would only cost the node a refusal.
    const manifest = this.options.config.models.find((m) => m.id === node.modelId)?.manifest;
    const problem = manifest && spanProblem(manifest, spanOf(commitment));
    if (problem !== undefined)
      throw new AuditError(
        status.INVALID_ARGUMENT,
        'COMMITMENT_SPAN_INVALID',
        `the commitment's span is not of "${node.modelId}", the model node ${node.nodeId} serves: ${problem}`,
      );
    const ticketId = ticketIdOf(commitment);
    if (this.audits.hasRequest(ticketId))
      throw new AuditError(
        status.ALREADY_EXISTS,
        'AUDIT_ALREADY_REQUESTED',
        `an audit request for ticket ${ticketId} is already on record`,
      );
    const dueByMs = nowMs + config.audit.ticketDeadlineMs;
    this.fresh(request, () =>
      this.audits.addRequest({
        ticketId,
        nodeId: commitment.nodeId,
        shardIndex: commitment.shardIndex,
        shardEnd: commitment.shardEnd,
        client: request.client,
        requestedAtMs: nowMs,
        dueByMs,
        request: Buffer.from(signed.payload),
      }),
    );
    return { ticketed: this.audits.hasTicket(ticketId), dueByMs };
  }
}

/** A fraud proof's recomputed output hash, once it is 32 bytes and the proof is signed over it by its verifier. */
function signedRecomputedHash(proof: FraudProof__Output, ticket: OpenedTicket): Buffer {
  const recomputed = proof.recomputedOutputHash;
  if (recomputed.length !== 32)
    throw new AuditError(
      status.INVALID_ARGUMENT,
      'RECOMPUTED_HASH_MALFORMED',
      `recomputed output hash has ${recomputed.length} bytes, not 32`,
    );
  checkFraudProofSignature(ticket, recomputed, proof.verifierId, proof.timestampMs, proof.signature);
  return recomputed;
}

/** The same items in random order (Fisher–Yates): where a canary sits in a lease says nothing. */
function shuffled<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** The host a call came from (grpc-js peers are "host:port", "ipv4:host:port" or "[v6]:port"). */
function submitterOf(peer: string): string {
  const withoutPort = peer.replace(/:\d+$/, '');
  return withoutPort.replace(/^ipv[46]:/, '');
}

/** The id of a refusal's evidence (the client's signed request and the deadline): its slash's evidence hash. */
function refusalEvidenceId(overdue: OpenRequest): string {
  return sha256(
    canonicalJson({
      kind: 'audit-refusal',
      ticketId: overdue.ticketId,
      request: overdue.request.toString('utf8'),
      dueByMs: overdue.dueByMs,
    }),
  ).toString('hex');
}
