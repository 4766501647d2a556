// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/membership.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { GetRosterReply as _tessera_v1_GetRosterReply, GetRosterReply__Output as _tessera_v1_GetRosterReply__Output } from '../../tessera/v1/GetRosterReply.ts';
import type { GetRosterRequest as _tessera_v1_GetRosterRequest, GetRosterRequest__Output as _tessera_v1_GetRosterRequest__Output } from '../../tessera/v1/GetRosterRequest.ts';
import type { LookupMembersReply as _tessera_v1_LookupMembersReply, LookupMembersReply__Output as _tessera_v1_LookupMembersReply__Output } from '../../tessera/v1/LookupMembersReply.ts';
import type { LookupMembersRequest as _tessera_v1_LookupMembersRequest, LookupMembersRequest__Output as _tessera_v1_LookupMembersRequest__Output } from '../../tessera/v1/LookupMembersRequest.ts';
import type { ReportEquivocationReply as _tessera_v1_ReportEquivocationReply, ReportEquivocationReply__Output as _tessera_v1_ReportEquivocationReply__Output } from '../../tessera/v1/ReportEquivocationReply.ts';
import type { ReportEquivocationRequest as _tessera_v1_ReportEquivocationRequest, ReportEquivocationRequest__Output as _tessera_v1_ReportEquivocationRequest__Output } from '../../tessera/v1/ReportEquivocationRequest.ts';

/**
 * Who a registered member is, for the daemons that check compute shares and elect block producers.
 * Served by the registry beside the Registry service; answers come from its admission records.
 */
export interface MembershipClient extends grpc.Client {
  /**
   * The roster of an epoch (src/chain/roster.ts), signed by this registry: at most one per epoch,
   * the same answer after a restart. FAILED_PRECONDITION (EPOCH_NOT_OPEN) for an epoch more than one
   * ahead of the registry's clock or already past and never signed.
   */
  GetRoster(argument: _tessera_v1_GetRosterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_GetRosterReply__Output>): grpc.ClientUnaryCall;
  GetRoster(argument: _tessera_v1_GetRosterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_GetRosterReply__Output>): grpc.ClientUnaryCall;
  GetRoster(argument: _tessera_v1_GetRosterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_GetRosterReply__Output>): grpc.ClientUnaryCall;
  GetRoster(argument: _tessera_v1_GetRosterRequest, callback: grpc.requestCallback<_tessera_v1_GetRosterReply__Output>): grpc.ClientUnaryCall;
  /**
   * The roster of an epoch (src/chain/roster.ts), signed by this registry: at most one per epoch,
   * the same answer after a restart. FAILED_PRECONDITION (EPOCH_NOT_OPEN) for an epoch more than one
   * ahead of the registry's clock or already past and never signed.
   */
  getRoster(argument: _tessera_v1_GetRosterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_GetRosterReply__Output>): grpc.ClientUnaryCall;
  getRoster(argument: _tessera_v1_GetRosterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_GetRosterReply__Output>): grpc.ClientUnaryCall;
  getRoster(argument: _tessera_v1_GetRosterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_GetRosterReply__Output>): grpc.ClientUnaryCall;
  getRoster(argument: _tessera_v1_GetRosterRequest, callback: grpc.requestCallback<_tessera_v1_GetRosterReply__Output>): grpc.ClientUnaryCall;
  
  LookupMembers(argument: _tessera_v1_LookupMembersRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_LookupMembersReply__Output>): grpc.ClientUnaryCall;
  LookupMembers(argument: _tessera_v1_LookupMembersRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_LookupMembersReply__Output>): grpc.ClientUnaryCall;
  LookupMembers(argument: _tessera_v1_LookupMembersRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_LookupMembersReply__Output>): grpc.ClientUnaryCall;
  LookupMembers(argument: _tessera_v1_LookupMembersRequest, callback: grpc.requestCallback<_tessera_v1_LookupMembersReply__Output>): grpc.ClientUnaryCall;
  lookupMembers(argument: _tessera_v1_LookupMembersRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_LookupMembersReply__Output>): grpc.ClientUnaryCall;
  lookupMembers(argument: _tessera_v1_LookupMembersRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_LookupMembersReply__Output>): grpc.ClientUnaryCall;
  lookupMembers(argument: _tessera_v1_LookupMembersRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_LookupMembersReply__Output>): grpc.ClientUnaryCall;
  lookupMembers(argument: _tessera_v1_LookupMembersRequest, callback: grpc.requestCallback<_tessera_v1_LookupMembersReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * Two block headers one producer signed for one slot: the registry checks them, slashes the
   * producer's stake by the cluster's fraud fraction and evicts it. ALREADY_EXISTS
   * (EVIDENCE_ALREADY_USED) for a pair already reported.
   */
  ReportEquivocation(argument: _tessera_v1_ReportEquivocationRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ReportEquivocationReply__Output>): grpc.ClientUnaryCall;
  ReportEquivocation(argument: _tessera_v1_ReportEquivocationRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ReportEquivocationReply__Output>): grpc.ClientUnaryCall;
  ReportEquivocation(argument: _tessera_v1_ReportEquivocationRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ReportEquivocationReply__Output>): grpc.ClientUnaryCall;
  ReportEquivocation(argument: _tessera_v1_ReportEquivocationRequest, callback: grpc.requestCallback<_tessera_v1_ReportEquivocationReply__Output>): grpc.ClientUnaryCall;
  /**
   * Two block headers one producer signed for one slot: the registry checks them, slashes the
   * producer's stake by the cluster's fraud fraction and evicts it. ALREADY_EXISTS
   * (EVIDENCE_ALREADY_USED) for a pair already reported.
   */
  reportEquivocation(argument: _tessera_v1_ReportEquivocationRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ReportEquivocationReply__Output>): grpc.ClientUnaryCall;
  reportEquivocation(argument: _tessera_v1_ReportEquivocationRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ReportEquivocationReply__Output>): grpc.ClientUnaryCall;
  reportEquivocation(argument: _tessera_v1_ReportEquivocationRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ReportEquivocationReply__Output>): grpc.ClientUnaryCall;
  reportEquivocation(argument: _tessera_v1_ReportEquivocationRequest, callback: grpc.requestCallback<_tessera_v1_ReportEquivocationReply__Output>): grpc.ClientUnaryCall;
  
}

/**
 * Who a registered member is, for the daemons that check compute shares and elect block producers.
 * Served by the registry beside the Registry service; answers come from its admission records.
 */
export interface MembershipHandlers extends grpc.UntypedServiceImplementation {
  /**
   * The roster of an epoch (src/chain/roster.ts), signed by this registry: at most one per epoch,
   * the same answer after a restart. FAILED_PRECONDITION (EPOCH_NOT_OPEN) for an epoch more than one
   * ahead of the registry's clock or already past and never signed.
   */
  GetRoster: grpc.handleUnaryCall<_tessera_v1_GetRosterRequest__Output, _tessera_v1_GetRosterReply>;
  
  LookupMembers: grpc.handleUnaryCall<_tessera_v1_LookupMembersRequest__Output, _tessera_v1_LookupMembersReply>;
  
  /**
   * Two block headers one producer signed for one slot: the registry checks them, slashes the
   * producer's stake by the cluster's fraud fraction and evicts it. ALREADY_EXISTS
   * (EVIDENCE_ALREADY_USED) for a pair already reported.
   */
  ReportEquivocation: grpc.handleUnaryCall<_tessera_v1_ReportEquivocationRequest__Output, _tessera_v1_ReportEquivocationReply>;
  
}

export interface MembershipDefinition extends grpc.ServiceDefinition {
  GetRoster: MethodDefinition<_tessera_v1_GetRosterRequest, _tessera_v1_GetRosterReply, _tessera_v1_GetRosterRequest__Output, _tessera_v1_GetRosterReply__Output>
  LookupMembers: MethodDefinition<_tessera_v1_LookupMembersRequest, _tessera_v1_LookupMembersReply, _tessera_v1_LookupMembersRequest__Output, _tessera_v1_LookupMembersReply__Output>
  ReportEquivocation: MethodDefinition<_tessera_v1_ReportEquivocationRequest, _tessera_v1_ReportEquivocationReply, _tessera_v1_ReportEquivocationRequest__Output, _tessera_v1_ReportEquivocationReply__Output>
}
