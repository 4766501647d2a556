import { credentials as grpcCredentials, type ChannelCredentials } from '@grpc/grpc-js';
import type { KeyPair } from '../crypto/keys.ts';
import { tessera } from '../proto/services.ts';
import type { AuditClient as GrpcAuditClient } from '../proto/tessera/v1/Audit.ts';
import type { AuditStatusReply__Output } from '../proto/tessera/v1/AuditStatusReply.ts';
import type { CompleteTicketsReply__Output } from '../proto/tessera/v1/CompleteTicketsReply.ts';
import type { FraudProof } from '../proto/tessera/v1/FraudProof.ts';
import type { FraudProofReply__Output } from '../proto/tessera/v1/FraudProofReply.ts';
import type { LeasedTicket__Output } from '../proto/tessera/v1/LeasedTicket.ts';
import type { PullTicketsReply__Output } from '../proto/tessera/v1/PullTicketsReply.ts';
import type { RequestAuditReply__Output } from '../proto/tessera/v1/RequestAuditReply.ts';
import type { SubmitTicketReply__Output } from '../proto/tessera/v1/SubmitTicketReply.ts';
import type { Ticket } from '../proto/tessera/v1/Ticket.ts';
import type { SignedCommitment } from '../protocol/commitment.ts';
import { commitmentToJson, newNonce, signRequest, type HeldShardClaim } from '../protocol/audit-statements.ts';
import { UnaryCalls } from '../rpc/unary-calls.ts';

/** Tickets carry a step's input: a long prefill's hidden states are megabytes. */
export const AUDIT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export interface AuditClientOptions {
  readonly credentials?: ChannelCredentials;
  /** Per-call deadline. Default 30 s. */
  readonly deadlineMs?: number;
}

/**
 * A promise-returning client of a registry's Audit service. Failed calls reject with the grpc-js
 * ServiceError (`code`, `details`).
 */
export class AuditClient {
  readonly #grpc: GrpcAuditClient;
  readonly #calls: UnaryCalls;

  constructor(
    readonly endpoint: string,
    options: AuditClientOptions = {},
  ) {
    this.#calls = new UnaryCalls(options.deadlineMs ?? 30_000);
    this.#grpc = new tessera.v1.Audit(endpoint, options.credentials ?? grpcCredentials.createInsecure(), {
      'grpc.max_send_message_length': AUDIT_MAX_MESSAGE_BYTES,
      'grpc.max_receive_message_length': AUDIT_MAX_MESSAGE_BYTES,
    });
  }

  /** Resolves with the ticket id once the registry holds the ticket durably. */
  async submitTicket(ticket: Ticket): Promise<string> {
    const reply = await this.#calls.call<SubmitTicketReply__Output>((cb) =>
      this.#grpc.submitTicket(ticket, this.#calls.options(), cb),
    );
    return reply.ticketId;
  }

  async pullTickets(
    key: KeyPair,
    shards: readonly HeldShardClaim[],
    engineVersion: string,
    max: number,
  ): Promise<LeasedTicket__Output[]> {
    const signed = signRequest(key, {
      kind: 'pull-tickets',
      verifierId: key.address,
      engineVersion,
      shards: [...shards],
      max,
      timestampMs: Date.now(),
      nonce: newNonce(),
    });
    const reply = await this.#calls.call<PullTicketsReply__Output>((cb) =>
      this.#grpc.pullTickets(signed, this.#calls.options(), cb),
    );
    return reply.tickets;
  }

  /** Reports audited passes: per leased ticket, the output hash recomputed (equal to the committed one). */
  async completeTickets(
    key: KeyPair,
    results: readonly { ticketId: string; outputHash: Uint8Array }[],
  ): Promise<number> {
    const signed = signRequest(key, {
      kind: 'complete-tickets',
      verifierId: key.address,
      timestampMs: Date.now(),
      nonce: newNonce(),
      results: results.map((r) => ({ ticketId: r.ticketId, outputHash: Buffer.from(r.outputHash).toString('hex') })),
    });
    const reply = await this.#calls.call<CompleteTicketsReply__Output>((cb) =>
      this.#grpc.completeTickets(signed, this.#calls.options(), cb),
    );
    return reply.passed;
  }

  async submitFraudProof(proof: FraudProof): Promise<FraudProofReply__Output> {
    return this.#calls.call<FraudProofReply__Output>((cb) =>
      this.#grpc.submitFraudProof(proof, this.#calls.options(), cb),
    );
  }

  /** A client's signed statement that `secret` selected `commitment` for audit. */
  async requestAudit(
    key: KeyPair,
    commitment: SignedCommitment,
    secret: Uint8Array,
  ): Promise<RequestAuditReply__Output> {
    const signed = signRequest(key, {
      kind: 'audit-request',
      client: key.address,
      commitment: commitmentToJson(commitment),
      secret: Buffer.from(secret).toString('hex'),
      timestampMs: Date.now(),
      nonce: newNonce(),
    });
    return this.#calls.call<RequestAuditReply__Output>((cb) =>
      this.#grpc.requestAudit(signed, this.#calls.options(), cb),
    );
  }

  async status(nodeId: string): Promise<AuditStatusReply__Output> {
    return this.#calls.call<AuditStatusReply__Output>((cb) =>
      this.#grpc.getAuditStatus({ nodeId }, this.#calls.options(), cb),
    );
  }

  /** Closes the channel; calls in flight reject with CANCELLED. */
  close(): void {
    this.#calls.cancelAll();
    this.#grpc.close();
  }
}
