// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/node.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ForwardReply as _tessera_v1_ForwardReply, ForwardReply__Output as _tessera_v1_ForwardReply__Output } from '../../tessera/v1/ForwardReply.ts';
import type { ForwardRequest as _tessera_v1_ForwardRequest, ForwardRequest__Output as _tessera_v1_ForwardRequest__Output } from '../../tessera/v1/ForwardRequest.ts';
import type { InfoReply as _tessera_v1_InfoReply, InfoReply__Output as _tessera_v1_InfoReply__Output } from '../../tessera/v1/InfoReply.ts';
import type { InfoRequest as _tessera_v1_InfoRequest, InfoRequest__Output as _tessera_v1_InfoRequest__Output } from '../../tessera/v1/InfoRequest.ts';

/**
 * A compute node serves one shard. A session is one bidirectional Forward stream: Open first, then
 * Steps (a prefill, then one decode position each), answered in order. A node that is not the last
 * hop opens its own stream to the next hop and relays the results back.
 */
export interface NodeClient extends grpc.Client {
  Forward(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tessera_v1_ForwardRequest, _tessera_v1_ForwardReply__Output>;
  Forward(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tessera_v1_ForwardRequest, _tessera_v1_ForwardReply__Output>;
  forward(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tessera_v1_ForwardRequest, _tessera_v1_ForwardReply__Output>;
  forward(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tessera_v1_ForwardRequest, _tessera_v1_ForwardReply__Output>;
  
  Info(argument: _tessera_v1_InfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_InfoReply__Output>): grpc.ClientUnaryCall;
  Info(argument: _tessera_v1_InfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_InfoReply__Output>): grpc.ClientUnaryCall;
  Info(argument: _tessera_v1_InfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_InfoReply__Output>): grpc.ClientUnaryCall;
  Info(argument: _tessera_v1_InfoRequest, callback: grpc.requestCallback<_tessera_v1_InfoReply__Output>): grpc.ClientUnaryCall;
  info(argument: _tessera_v1_InfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_InfoReply__Output>): grpc.ClientUnaryCall;
  info(argument: _tessera_v1_InfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_InfoReply__Output>): grpc.ClientUnaryCall;
  info(argument: _tessera_v1_InfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_InfoReply__Output>): grpc.ClientUnaryCall;
  info(argument: _tessera_v1_InfoRequest, callback: grpc.requestCallback<_tessera_v1_InfoReply__Output>): grpc.ClientUnaryCall;
  
}

/**
 * A compute node serves one shard. A session is one bidirectional Forward stream: Open first, then
 * Steps (a prefill, then one decode position each), answered in order. A node that is not the last
 * hop opens its own stream to the next hop and relays the results back.
 */
export interface NodeHandlers extends grpc.UntypedServiceImplementation {
  Forward: grpc.handleBidiStreamingCall<_tessera_v1_ForwardRequest__Output, _tessera_v1_ForwardReply>;
  
  Info: grpc.handleUnaryCall<_tessera_v1_InfoRequest__Output, _tessera_v1_InfoReply>;
  
}

export interface NodeDefinition extends grpc.ServiceDefinition {
  Forward: MethodDefinition<_tessera_v1_ForwardRequest, _tessera_v1_ForwardReply, _tessera_v1_ForwardRequest__Output, _tessera_v1_ForwardReply__Output>
  Info: MethodDefinition<_tessera_v1_InfoRequest, _tessera_v1_InfoReply, _tessera_v1_InfoRequest__Output, _tessera_v1_InfoReply__Output>
}
