// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/membership.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { LookupMembersReply as _tessera_v1_LookupMembersReply, LookupMembersReply__Output as _tessera_v1_LookupMembersReply__Output } from './LookupMembersReply.ts';
import type { LookupMembersRequest as _tessera_v1_LookupMembersRequest, LookupMembersRequest__Output as _tessera_v1_LookupMembersRequest__Output } from './LookupMembersRequest.ts';

/**
 * Who a registered member is, for the daemons that check compute shares and elect block producers.
 * Served by the registry beside the Registry service; answers come from its admission records.
 */
export interface MembershipClient extends grpc.Client {
  LookupMembers(argument: _tessera_v1_LookupMembersRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_LookupMembersReply__Output>): grpc.ClientUnaryCall;
  LookupMembers(argument: _tessera_v1_LookupMembersRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_LookupMembersReply__Output>): grpc.ClientUnaryCall;
  LookupMembers(argument: _tessera_v1_LookupMembersRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_LookupMembersReply__Output>): grpc.ClientUnaryCall;
  LookupMembers(argument: _tessera_v1_LookupMembersRequest, callback: grpc.requestCallback<_tessera_v1_LookupMembersReply__Output>): grpc.ClientUnaryCall;
  lookupMembers(argument: _tessera_v1_LookupMembersRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_LookupMembersReply__Output>): grpc.ClientUnaryCall;
  lookupMembers(argument: _tessera_v1_LookupMembersRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_LookupMembersReply__Output>): grpc.ClientUnaryCall;
  lookupMembers(argument: _tessera_v1_LookupMembersRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_LookupMembersReply__Output>): grpc.ClientUnaryCall;
  lookupMembers(argument: _tessera_v1_LookupMembersRequest, callback: grpc.requestCallback<_tessera_v1_LookupMembersReply__Output>): grpc.ClientUnaryCall;
  
}

/**
 * Who a registered member is, for the daemons that check compute shares and elect block producers.
 * Served by the registry beside the Registry service; answers come from its admission records.
 */
export interface MembershipHandlers extends grpc.UntypedServiceImplementation {
  LookupMembers: grpc.handleUnaryCall<_tessera_v1_LookupMembersRequest__Output, _tessera_v1_LookupMembersReply>;
  
}

export interface MembershipDefinition extends grpc.ServiceDefinition {
  LookupMembers: MethodDefinition<_tessera_v1_LookupMembersRequest, _tessera_v1_LookupMembersReply, _tessera_v1_LookupMembersRequest__Output, _tessera_v1_LookupMembersReply__Output>
}
