// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/verifier.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AuditStatusReply as _tessera_v1_AuditStatusReply, AuditStatusReply__Output as _tessera_v1_AuditStatusReply__Output } from '../../tessera/v1/AuditStatusReply.ts';
import type { AuditStatusRequest as _tessera_v1_AuditStatusRequest, AuditStatusRequest__Output as _tessera_v1_AuditStatusRequest__Output } from '../../tessera/v1/AuditStatusRequest.ts';
import type { CompleteTicketsReply as _tessera_v1_CompleteTicketsReply, CompleteTicketsReply__Output as _tessera_v1_CompleteTicketsReply__Output } from '../../tessera/v1/CompleteTicketsReply.ts';
import type { FraudProof as _tessera_v1_FraudProof, FraudProof__Output as _tessera_v1_FraudProof__Output } from '../../tessera/v1/FraudProof.ts';
import type { FraudProofReply as _tessera_v1_FraudProofReply, FraudProofReply__Output as _tessera_v1_FraudProofReply__Output } from '../../tessera/v1/FraudProofReply.ts';
import type { PullTicketsReply as _tessera_v1_PullTicketsReply, PullTicketsReply__Output as _tessera_v1_PullTicketsReply__Output } from '../../tessera/v1/PullTicketsReply.ts';
import type { RequestAuditReply as _tessera_v1_RequestAuditReply, RequestAuditReply__Output as _tessera_v1_RequestAuditReply__Output } from '../../tessera/v1/RequestAuditReply.ts';
import type { Signed as _tessera_v1_Signed, Signed__Output as _tessera_v1_Signed__Output } from '../../tessera/v1/Signed.ts';
import type { SubmitTicketReply as _tessera_v1_SubmitTicketReply, SubmitTicketReply__Output as _tessera_v1_SubmitTicketReply__Output } from '../../tessera/v1/SubmitTicketReply.ts';
import type { Ticket as _tessera_v1_Ticket, Ticket__Output as _tessera_v1_Ticket__Output } from '../../tessera/v1/Ticket.ts';

/**
 * Audits (docs/ARCHITECTURE.md §6), served by the registry beside Registry. Nodes submit tickets for the
 * steps their clients' revealed secrets selected; verifiers lease tickets, recompute them and either
 * report a pass or file a fraud proof; clients file signed audit requests so that a ticket that never
 * comes is on record. A ticket names no session or user (shard 0's input is the prompt's token ids).
 */
export interface AuditClient extends grpc.Client {
  /**
   * Payload: a CompleteRequest signed by the verifier holding the leases: the output hash it
   * recomputed per ticket, equal to the committed one (a mismatch is a fraud proof instead).
   */
  CompleteTickets(argument: _tessera_v1_Signed, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_CompleteTicketsReply__Output>): grpc.ClientUnaryCall;
  CompleteTickets(argument: _tessera_v1_Signed, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_CompleteTicketsReply__Output>): grpc.ClientUnaryCall;
  CompleteTickets(argument: _tessera_v1_Signed, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_CompleteTicketsReply__Output>): grpc.ClientUnaryCall;
  CompleteTickets(argument: _tessera_v1_Signed, callback: grpc.requestCallback<_tessera_v1_CompleteTicketsReply__Output>): grpc.ClientUnaryCall;
  /**
   * Payload: a CompleteRequest signed by the verifier holding the leases: the output hash it
   * recomputed per ticket, equal to the committed one (a mismatch is a fraud proof instead).
   */
  completeTickets(argument: _tessera_v1_Signed, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_CompleteTicketsReply__Output>): grpc.ClientUnaryCall;
  completeTickets(argument: _tessera_v1_Signed, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_CompleteTicketsReply__Output>): grpc.ClientUnaryCall;
  completeTickets(argument: _tessera_v1_Signed, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_CompleteTicketsReply__Output>): grpc.ClientUnaryCall;
  completeTickets(argument: _tessera_v1_Signed, callback: grpc.requestCallback<_tessera_v1_CompleteTicketsReply__Output>): grpc.ClientUnaryCall;
  
  GetAuditStatus(argument: _tessera_v1_AuditStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuditStatusReply__Output>): grpc.ClientUnaryCall;
  GetAuditStatus(argument: _tessera_v1_AuditStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AuditStatusReply__Output>): grpc.ClientUnaryCall;
  GetAuditStatus(argument: _tessera_v1_AuditStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuditStatusReply__Output>): grpc.ClientUnaryCall;
  GetAuditStatus(argument: _tessera_v1_AuditStatusRequest, callback: grpc.requestCallback<_tessera_v1_AuditStatusReply__Output>): grpc.ClientUnaryCall;
  getAuditStatus(argument: _tessera_v1_AuditStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuditStatusReply__Output>): grpc.ClientUnaryCall;
  getAuditStatus(argument: _tessera_v1_AuditStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AuditStatusReply__Output>): grpc.ClientUnaryCall;
  getAuditStatus(argument: _tessera_v1_AuditStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuditStatusReply__Output>): grpc.ClientUnaryCall;
  getAuditStatus(argument: _tessera_v1_AuditStatusRequest, callback: grpc.requestCallback<_tessera_v1_AuditStatusReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * Payload: a PullRequest (src/audit/verifier-requests.ts) signed by a registered verifier. Leases
   * up to `max` tickets of the shards it holds; a lease not completed in time returns to the queue.
   */
  PullTickets(argument: _tessera_v1_Signed, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_PullTicketsReply__Output>): grpc.ClientUnaryCall;
  PullTickets(argument: _tessera_v1_Signed, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_PullTicketsReply__Output>): grpc.ClientUnaryCall;
  PullTickets(argument: _tessera_v1_Signed, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_PullTicketsReply__Output>): grpc.ClientUnaryCall;
  PullTickets(argument: _tessera_v1_Signed, callback: grpc.requestCallback<_tessera_v1_PullTicketsReply__Output>): grpc.ClientUnaryCall;
  /**
   * Payload: a PullRequest (src/audit/verifier-requests.ts) signed by a registered verifier. Leases
   * up to `max` tickets of the shards it holds; a lease not completed in time returns to the queue.
   */
  pullTickets(argument: _tessera_v1_Signed, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_PullTicketsReply__Output>): grpc.ClientUnaryCall;
  pullTickets(argument: _tessera_v1_Signed, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_PullTicketsReply__Output>): grpc.ClientUnaryCall;
  pullTickets(argument: _tessera_v1_Signed, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_PullTicketsReply__Output>): grpc.ClientUnaryCall;
  pullTickets(argument: _tessera_v1_Signed, callback: grpc.requestCallback<_tessera_v1_PullTicketsReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * Payload: an AuditRequest signed by the client: "this commitment was selected by my revealed
   * secret; its ticket is due". The registry hands it to the node at its heartbeats; unanswered past
   * the deadline (audit.ticketDeadlineMs), it is a refusal, slashed once (stake.slashFractions.auditRefusal).
   */
  RequestAudit(argument: _tessera_v1_Signed, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_RequestAuditReply__Output>): grpc.ClientUnaryCall;
  RequestAudit(argument: _tessera_v1_Signed, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_RequestAuditReply__Output>): grpc.ClientUnaryCall;
  RequestAudit(argument: _tessera_v1_Signed, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_RequestAuditReply__Output>): grpc.ClientUnaryCall;
  RequestAudit(argument: _tessera_v1_Signed, callback: grpc.requestCallback<_tessera_v1_RequestAuditReply__Output>): grpc.ClientUnaryCall;
  /**
   * Payload: an AuditRequest signed by the client: "this commitment was selected by my revealed
   * secret; its ticket is due". The registry hands it to the node at its heartbeats; unanswered past
   * the deadline (audit.ticketDeadlineMs), it is a refusal, slashed once (stake.slashFractions.auditRefusal).
   */
  requestAudit(argument: _tessera_v1_Signed, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_RequestAuditReply__Output>): grpc.ClientUnaryCall;
  requestAudit(argument: _tessera_v1_Signed, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_RequestAuditReply__Output>): grpc.ClientUnaryCall;
  requestAudit(argument: _tessera_v1_Signed, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_RequestAuditReply__Output>): grpc.ClientUnaryCall;
  requestAudit(argument: _tessera_v1_Signed, callback: grpc.requestCallback<_tessera_v1_RequestAuditReply__Output>): grpc.ClientUnaryCall;
  
  SubmitFraudProof(argument: _tessera_v1_FraudProof, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FraudProofReply__Output>): grpc.ClientUnaryCall;
  SubmitFraudProof(argument: _tessera_v1_FraudProof, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_FraudProofReply__Output>): grpc.ClientUnaryCall;
  SubmitFraudProof(argument: _tessera_v1_FraudProof, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FraudProofReply__Output>): grpc.ClientUnaryCall;
  SubmitFraudProof(argument: _tessera_v1_FraudProof, callback: grpc.requestCallback<_tessera_v1_FraudProofReply__Output>): grpc.ClientUnaryCall;
  submitFraudProof(argument: _tessera_v1_FraudProof, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FraudProofReply__Output>): grpc.ClientUnaryCall;
  submitFraudProof(argument: _tessera_v1_FraudProof, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_FraudProofReply__Output>): grpc.ClientUnaryCall;
  submitFraudProof(argument: _tessera_v1_FraudProof, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FraudProofReply__Output>): grpc.ClientUnaryCall;
  submitFraudProof(argument: _tessera_v1_FraudProof, callback: grpc.requestCallback<_tessera_v1_FraudProofReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * A ticket is acknowledged only once it is committed to the registry's database. ALREADY_EXISTS
   * for a ticket of a commitment already queued.
   */
  SubmitTicket(argument: _tessera_v1_Ticket, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_SubmitTicketReply__Output>): grpc.ClientUnaryCall;
  SubmitTicket(argument: _tessera_v1_Ticket, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_SubmitTicketReply__Output>): grpc.ClientUnaryCall;
  SubmitTicket(argument: _tessera_v1_Ticket, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_SubmitTicketReply__Output>): grpc.ClientUnaryCall;
  SubmitTicket(argument: _tessera_v1_Ticket, callback: grpc.requestCallback<_tessera_v1_SubmitTicketReply__Output>): grpc.ClientUnaryCall;
  /**
   * A ticket is acknowledged only once it is committed to the registry's database. ALREADY_EXISTS
   * for a ticket of a commitment already queued.
   */
  submitTicket(argument: _tessera_v1_Ticket, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_SubmitTicketReply__Output>): grpc.ClientUnaryCall;
  submitTicket(argument: _tessera_v1_Ticket, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_SubmitTicketReply__Output>): grpc.ClientUnaryCall;
  submitTicket(argument: _tessera_v1_Ticket, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_SubmitTicketReply__Output>): grpc.ClientUnaryCall;
  submitTicket(argument: _tessera_v1_Ticket, callback: grpc.requestCallback<_tessera_v1_SubmitTicketReply__Output>): grpc.ClientUnaryCall;
  
}

/**
 * Audits (docs/ARCHITECTURE.md §6), served by the registry beside Registry. Nodes submit tickets for the
 * steps their clients' revealed secrets selected; verifiers lease tickets, recompute them and either
 * report a pass or file a fraud proof; clients file signed audit requests so that a ticket that never
 * comes is on record. A ticket names no session or user (shard 0's input is the prompt's token ids).
 */
export interface AuditHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Payload: a CompleteRequest signed by the verifier holding the leases: the output hash it
   * recomputed per ticket, equal to the committed one (a mismatch is a fraud proof instead).
   */
  CompleteTickets: grpc.handleUnaryCall<_tessera_v1_Signed__Output, _tessera_v1_CompleteTicketsReply>;
  
  GetAuditStatus: grpc.handleUnaryCall<_tessera_v1_AuditStatusRequest__Output, _tessera_v1_AuditStatusReply>;
  
  /**
   * Payload: a PullRequest (src/audit/verifier-requests.ts) signed by a registered verifier. Leases
   * up to `max` tickets of the shards it holds; a lease not completed in time returns to the queue.
   */
  PullTickets: grpc.handleUnaryCall<_tessera_v1_Signed__Output, _tessera_v1_PullTicketsReply>;
  
  /**
   * Payload: an AuditRequest signed by the client: "this commitment was selected by my revealed
   * secret; its ticket is due". The registry hands it to the node at its heartbeats; unanswered past
   * the deadline (audit.ticketDeadlineMs), it is a refusal, slashed once (stake.slashFractions.auditRefusal).
   */
  RequestAudit: grpc.handleUnaryCall<_tessera_v1_Signed__Output, _tessera_v1_RequestAuditReply>;
  
  SubmitFraudProof: grpc.handleUnaryCall<_tessera_v1_FraudProof__Output, _tessera_v1_FraudProofReply>;
  
  /**
   * A ticket is acknowledged only once it is committed to the registry's database. ALREADY_EXISTS
   * for a ticket of a commitment already queued.
   */
  SubmitTicket: grpc.handleUnaryCall<_tessera_v1_Ticket__Output, _tessera_v1_SubmitTicketReply>;
  
}

export interface AuditDefinition extends grpc.ServiceDefinition {
  CompleteTickets: MethodDefinition<_tessera_v1_Signed, _tessera_v1_CompleteTicketsReply, _tessera_v1_Signed__Output, _tessera_v1_CompleteTicketsReply__Output>
  GetAuditStatus: MethodDefinition<_tessera_v1_AuditStatusRequest, _tessera_v1_AuditStatusReply, _tessera_v1_AuditStatusRequest__Output, _tessera_v1_AuditStatusReply__Output>
  PullTickets: MethodDefinition<_tessera_v1_Signed, _tessera_v1_PullTicketsReply, _tessera_v1_Signed__Output, _tessera_v1_PullTicketsReply__Output>
  RequestAudit: MethodDefinition<_tessera_v1_Signed, _tessera_v1_RequestAuditReply, _tessera_v1_Signed__Output, _tessera_v1_RequestAuditReply__Output>
  SubmitFraudProof: MethodDefinition<_tessera_v1_FraudProof, _tessera_v1_FraudProofReply, _tessera_v1_FraudProof__Output, _tessera_v1_FraudProofReply__Output>
  SubmitTicket: MethodDefinition<_tessera_v1_Ticket, _tessera_v1_SubmitTicketReply, _tessera_v1_Ticket__Output, _tessera_v1_SubmitTicketReply__Output>
}
