import { hex, sha256 } from '../crypto/hash.ts';
import type { Logger } from '../core/log.ts';
import { status, type handleUnaryCall, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { dirname } from 'node:path';
import { verifyCommitment } from '../protocol/commitment.ts';
import { ENGINE_VERSION } from '../protocol/engine-version.ts';
import { recomputeOutputHash, ShardEngines } from '../audit/recompute.ts';
import { isAudited, secretBindingProblem } from '../protocol/audit-selection.ts';
import {
  checkFraudProofSignature,
  commitmentFromJson,
  openRequest,
  signerOf,
  type AuditRequest,
  type Request,
} from '../protocol/audit-statements.ts';
import {
  AuditError,
  checkTicketAgainstManifest,
  openTicket,
  ticketIdOf,
  type OpenedTicket,
} from '../protocol/ticket.ts';
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
import { createWasmBackend } from '../tensor/wasm-backend.ts';
import { canonicalJson } from '../crypto/canonical-json.ts';
import { AuditStore, type OpenRequest, type ProofStatus } from './audit-store.ts';
import type { ClusterConfig, ServedModel } from './cluster-config.ts';
import type { RegistryStore } from './store.ts';
import { checkNonce, checkTimestamp, rememberNonce } from './admission.ts';
import { TesseraError } from '../core/errors.ts';
import { kindOfStatus, toStatusObject } from '../rpc/status.ts';

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
}

/** Most tickets one pull leases, and the most ticket bytes one reply carries. */
const MAX_PULL = 64;
const MAX_PULL_BYTES = 32 * 1024 * 1024;
const BPS = 10_000;
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
 * slashing and eviction that follow, and clients' audit requests.
 *
 * Confirmation: the registry recomputes the ticket itself with the shard beside its manifest. That
 * is the strongest check a single party can make (no verifier's word is taken), and proofs are rare,
 * so its cost (the shard's layers over the ticket's positions, on this thread) is paid seldom. A
 * registry without the shard file, or of another engine version, keeps the proof unconfirmed.
 */
export class AuditService {
  readonly audits: AuditStore;
  private slashing: Promise<void> = Promise.resolve();

  constructor(private readonly options: AuditServiceOptions) {
    this.audits = new AuditStore(options.store.database);
    // A node can answer only while the registry is up (it learns its requests from heartbeat
    // replies, and tickets come here): a deadline runs out only after a whole deadline of uptime.
    const extended = this.audits.extendOpenRequests(Date.now() + options.config.audit.ticketDeadlineMs);
    if (extended > 0)
      options.log('audit_deadlines_extended', {
        requests: extended,
        ticketDeadlineMs: options.config.audit.ticketDeadlineMs,
      });
  }

  /** What a node owes: its open audit requests, earliest due first, for its heartbeat reply. */
  owedTo(nodeId: string): OwedAudit[] {
    return this.audits.openRequestsFor(nodeId, MAX_OWED_PER_HEARTBEAT).map((open) => {
      const request = JSON.parse(open.request.toString('utf8')) as AuditRequest;
      return {
        stepId: Buffer.from(request.commitment.stepId, 'hex'),
        shardIndex: request.commitment.shardIndex,
        secret: Buffer.from(request.secret, 'hex'),
        dueByMs: open.dueByMs,
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
    if (!verifyCommitment(commitment)) return 'the stored commitment is not signed by the node';
    const unbound = secretBindingProblem(commitment, Buffer.from(request.secret, 'hex'));
    if (unbound !== undefined) return unbound;
    const { audit } = this.options.config;
    if (!isAudited(Buffer.from(request.secret, 'hex'), commitment.stepId, commitment.shardIndex, audit.samplingRate)) {
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
      SubmitTicket: this.unary((ticket) => this.submitTicket(ticket)),
      PullTickets: this.unary((signed) => this.pullTickets(signed)),
      CompleteTickets: this.unary((signed) => this.completeTickets(signed)),
      SubmitFraudProof: this.unary((proof) => this.submitFraudProof(proof)),
      RequestAudit: this.unary((signed) => this.requestAudit(signed)),
      GetAuditStatus: this.unary(async (request) => this.audits.counts(request.nodeId, Date.now())),
    };
  }

  /** Every refusal is a TesseraError (an AuditError becomes one, its status name the reason); anything else is INTERNAL and logged. */
  private unary<Req, Reply>(work: (request: Req) => Promise<Reply>): handleUnaryCall<Req, Reply> {
    return (call: ServerUnaryCall<Req, Reply>, callback: sendUnaryData<Reply>) => {
      work(call.request).then(
        (reply) => callback(null, reply),
        (error: unknown) => {
          const refusal =
            error instanceof AuditError
              ? new TesseraError(status[error.code], kindOfStatus(error.code), error.message)
              : error;
          if (refusal instanceof TesseraError) {
            this.options.log('audit_refused', { peer: call.getPeer(), code: refusal.code, reason: refusal.message });
          } else {
            this.options.log('internal_error', { error: (error as Error)?.stack ?? String(error) });
          }
          callback(toStatusObject(refusal) as never);
        },
      );
    };
  }

  private model(modelId: string): ServedModel {
    const model = this.options.config.models.find((m) => m.id === modelId);
    if (!model) throw new AuditError(status.NOT_FOUND, `model "${modelId}" is not served by this registry`);
    return model;
  }

  /** Opens a ticket and checks everything it claims that this registry can check without computing. */
  private async checkTicket(ticket: Ticket__Output | null): Promise<OpenedTicket> {
    if (!ticket) throw new AuditError(status.INVALID_ARGUMENT, 'no ticket');
    const opened = await openTicket(ticket, this.options.config.audit.maxTicketBytes);
    checkTicketAgainstManifest(opened, this.model(opened.modelId).manifest);
    const node = this.options.store.node(opened.commitment.nodeId);
    if (!node || node.role !== 'node')
      throw new AuditError(status.NOT_FOUND, `node ${opened.commitment.nodeId} is not registered here`);
    if (node.modelId !== opened.modelId || node.shardIndex !== opened.shardIndex) {
      throw new AuditError(
        status.INVALID_ARGUMENT,
        `node ${node.nodeId} serves shard ${node.shardIndex} of "${node.modelId}", the ticket is for shard ${opened.shardIndex} of "${opened.modelId}"`,
      );
    }
    return opened;
  }

  private async submitTicket(ticket: Ticket__Output): Promise<SubmitTicketReply> {
    const opened = await this.checkTicket(ticket);
    const { audits } = this;
    const { config } = this.options;
    if (opened.engineVersion !== ENGINE_VERSION) {
      throw new AuditError(
        status.FAILED_PRECONDITION,
        `ticket was computed by ${opened.engineVersion}; this registry audits ${ENGINE_VERSION}: run that engine version`,
      );
    }
    const nodeId = opened.commitment.nodeId;
    const banned = this.banReason(nodeId);
    if (banned) throw new AuditError(status.PERMISSION_DENIED, banned);
    const existing = audits.ticketStatus(opened.ticketId);
    if (existing)
      throw new AuditError(
        status.ALREADY_EXISTS,
        `ticket ${opened.ticketId} (node ${nodeId}, shard ${opened.shardIndex}) is already held (${existing.status}); each commitment is audited once`,
      );
    // The commitment's signature is checked (checkTicket): charged to that node, but only for a
    // ticket not held yet, so a replay of the node's public tickets cannot spend its bucket.
    this.options.takeKey?.('SubmitTicket', nodeId);
    if (audits.queuedFor(nodeId) >= config.audit.maxQueuedPerNode) {
      throw new AuditError(
        status.RESOURCE_EXHAUSTED,
        `node ${nodeId} already has ${config.audit.maxQueuedPerNode} tickets waiting for a verifier; retry later`,
      );
    }
    const added = audits.addTicket(
      {
        ticketId: opened.ticketId,
        nodeId,
        modelId: opened.modelId,
        shardIndex: opened.shardIndex,
        engineVersion: opened.engineVersion,
        ticket: ticketCodec().requestSerialize(ticket),
        committedOutputHash: hex(opened.commitment.outputHash),
      },
      Date.now(),
    );
    if (!added)
      throw new AuditError(
        status.ALREADY_EXISTS,
        `ticket ${opened.ticketId} is already held; each commitment is audited once`,
      );
    this.options.log('ticket_queued', {
      ticketId: opened.ticketId,
      nodeId,
      modelId: opened.modelId,
      shard: opened.shardIndex,
      positions: opened.input.positions,
      bytes: opened.compressedBytes,
    });
    return { ticketId: opened.ticketId };
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

  private checkVerifier(verifierId: string): void {
    const node = this.options.store.node(verifierId);
    if (!node || node.role !== 'verifier')
      throw new AuditError(
        status.PERMISSION_DENIED,
        `${verifierId} is not a registered verifier: register with role "verifier" first`,
      );
    if (node.status !== 'live')
      throw new AuditError(
        status.PERMISSION_DENIED,
        `verifier ${verifierId} was evicted after missed heartbeats: register again`,
      );
  }

  private async pullTickets(signed: Signed__Output): Promise<PullTicketsReply> {
    const request = this.admitSigner(openRequest('pull-tickets', signed));
    this.checkVerifier(request.verifierId);
    const held = request.shards.filter(
      (s) =>
        this.options.config.models.find((m) => m.id === s.modelId)?.manifest.shards[s.shardIndex]?.sha256 ===
        s.shardSha256,
    );
    const leased = this.fresh(request, () =>
      this.audits.lease(
        request.verifierId,
        held,
        request.engineVersion,
        Math.min(request.max, MAX_PULL),
        Date.now(),
        this.options.config.audit.leaseMs,
        MAX_PULL_BYTES,
      ),
    );
    if (leased.length > 0)
      this.options.log('tickets_leased', { verifierId: request.verifierId, tickets: leased.length });
    return {
      tickets: leased.map((row) => ({
        ticketId: row.ticketId,
        ticket: ticketCodec().requestDeserialize(row.ticket) as Ticket__Output,
        leaseUntilMs: row.leaseUntilMs,
      })),
    };
  }

  private async completeTickets(signed: Signed__Output): Promise<CompleteTicketsReply> {
    const request = this.admitSigner(openRequest('complete-tickets', signed));
    this.checkVerifier(request.verifierId);
    for (const result of request.results) {
      const ticket = this.audits.ticketStatus(result.ticketId);
      if (!ticket) throw new AuditError(status.NOT_FOUND, `unknown ticket ${result.ticketId}`);
      if (ticket.status !== 'queued')
        throw new AuditError(status.FAILED_PRECONDITION, `ticket ${result.ticketId} is already ${ticket.status}`);
      if (ticket.leaseOwner !== request.verifierId) {
        throw new AuditError(
          status.FAILED_PRECONDITION,
          `ticket ${result.ticketId} is ${ticket.leaseOwner === null ? 'not leased' : `leased to ${ticket.leaseOwner}`}: pull it before reporting it`,
        );
      }
      if (ticket.committedOutputHash !== result.outputHash) {
        throw new AuditError(
          status.INVALID_ARGUMENT,
          `ticket ${result.ticketId}: recomputed output hash ${result.outputHash} differs from the committed ${ticket.committedOutputHash}: submit a fraud proof instead`,
        );
      }
    }
    const ids = request.results.map((r) => r.ticketId);
    this.fresh(request, () => this.audits.markPassed(ids, request.verifierId, Date.now()));
    return { passed: ids.length };
  }

  private async submitFraudProof(proof: FraudProof__Output): Promise<FraudProofReply> {
    const { store, config, log } = this.options;
    const ticket = await this.checkTicket(proof.ticket);
    const recomputed = proof.recomputedOutputHash;
    if (recomputed.length !== 32)
      throw new AuditError(status.INVALID_ARGUMENT, `recomputed output hash has ${recomputed.length} bytes, not 32`);
    checkFraudProofSignature(ticket, recomputed, proof.verifierId, proof.timestampMs, proof.signature);
    const verifier = store.node(proof.verifierId);
    if (!verifier || verifier.role !== 'verifier')
      throw new AuditError(status.PERMISSION_DENIED, `${proof.verifierId} is not a registered verifier`);
    const accused = ticket.commitment.nodeId;
    if (Buffer.from(recomputed).equals(ticket.commitment.outputHash)) {
      throw new AuditError(
        status.INVALID_ARGUMENT,
        `the recomputed output hash equals the one node ${accused} committed to: no mismatch, nothing to prove`,
      );
    }
    const onRecord = this.audits.proofForTicket(ticket.ticketId);
    if (onRecord)
      throw new AuditError(
        status.ALREADY_EXISTS,
        `a fraud proof against ticket ${ticket.ticketId} is already on record (${onRecord.status}, proof ${onRecord.proofId})`,
      );
    // Signed by this registered verifier and not a replay: charged before the ticket is recomputed.
    this.options.takeKey?.('SubmitFraudProof', proof.verifierId);

    const { status: verdict, registryHash, detail } = await this.confirm(ticket, recomputed);
    const proofBytes = proofCodec().requestSerialize(proof);
    const proofId = sha256(proofBytes).toString('hex');
    const fractionBps = Math.round(config.stake.slashFractions.fraud * BPS);
    const nowMs = Date.now();
    store.transaction(() => {
      // Checked again inside the transaction: two proofs of one ticket may have been confirmed at once.
      if (this.audits.proofForTicket(ticket.ticketId))
        throw new AuditError(
          status.ALREADY_EXISTS,
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
    if (verdict === 'confirmed') await this.applyPendingSlashes();
    return {
      proofId,
      accused,
      detail,
      status:
        verdict === 'confirmed' ? 'PROOF_CONFIRMED' : verdict === 'refuted' ? 'PROOF_REFUTED' : 'PROOF_UNCONFIRMED',
      slashedAmount: this.audits.slashAmount(proofId) ?? '',
    };
  }

  /** Recomputes the ticket here: the registry's own answer decides. */
  private async confirm(
    ticket: OpenedTicket,
    recomputed: Uint8Array,
  ): Promise<{ status: ProofStatus; registryHash: string; detail: string }> {
    if (ticket.engineVersion !== ENGINE_VERSION) {
      return {
        status: 'unconfirmed',
        registryHash: '',
        detail: `ticket computed by ${ticket.engineVersion}; this registry runs ${ENGINE_VERSION} and cannot recompute it`,
      };
    }
    const model = this.model(ticket.modelId);
    const backend = await createWasmBackend({ threads: 1 });
    let ours: Buffer;
    try {
      const engines = new ShardEngines([{ manifest: model.manifest, dir: dirname(model.manifestPath) }], backend);
      ours = recomputeOutputHash(engines.engine(ticket.modelId, ticket.shardIndex), ticket.input);
    } catch (error) {
      if (error instanceof AuditError) throw error;
      return {
        status: 'unconfirmed',
        registryHash: '',
        detail: `the registry cannot recompute shard ${ticket.shardIndex}: ${(error as Error).message}`,
      };
    } finally {
      await backend.close();
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
    if (!verifyCommitment(commitment))
      throw new AuditError(status.UNAUTHENTICATED, `the commitment is not signed by node ${commitment.nodeId}`);
    const secret = Buffer.from(request.secret, 'hex');
    const unbound = secretBindingProblem(commitment, secret);
    if (unbound !== undefined) throw new AuditError(status.FAILED_PRECONDITION, `${unbound}: nothing is owed`);
    if (!isAudited(secret, commitment.stepId, commitment.shardIndex, config.audit.samplingRate)) {
      throw new AuditError(
        status.FAILED_PRECONDITION,
        `the secret does not select this step of shard ${commitment.shardIndex} at the cluster's sampling rate ${config.audit.samplingRate}: nothing is owed`,
      );
    }
    // The node keeps a step only as long as requests for it may come (auditRetentionMs): a later one
    // could slash an honest node that already let the step go.
    const nowMs = Date.now();
    const ageMs = nowMs - commitment.timestampMs;
    if (ageMs > config.audit.requestWindowMs) {
      throw new AuditError(
        status.FAILED_PRECONDITION,
        `the commitment is dated ${new Date(commitment.timestampMs).toISOString()}, ${Math.round(ageMs / 1000)} s ago, past the cluster's audit request window of ${Math.round(config.audit.requestWindowMs / 1000)} s: node ${commitment.nodeId} no longer owes a ticket for it; request audits right after the session`,
      );
    }
    const node = store.node(commitment.nodeId);
    if (!node || node.role !== 'node')
      throw new AuditError(status.NOT_FOUND, `node ${commitment.nodeId} is not registered here`);
    const ticketId = ticketIdOf(commitment);
    if (this.audits.hasRequest(ticketId))
      throw new AuditError(status.ALREADY_EXISTS, `an audit request for ticket ${ticketId} is already on record`);
    const dueByMs = nowMs + config.audit.ticketDeadlineMs;
    this.fresh(request, () =>
      this.audits.addRequest({
        ticketId,
        nodeId: commitment.nodeId,
        shardIndex: commitment.shardIndex,
        client: request.client,
        requestedAtMs: nowMs,
        dueByMs,
        request: Buffer.from(signed.payload),
      }),
    );
    return { ticketed: this.audits.hasTicket(ticketId), dueByMs };
  }
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
