// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { GetShardRequest as _tessera_v1_GetShardRequest, GetShardRequest__Output as _tessera_v1_GetShardRequest__Output } from '../../tessera/v1/GetShardRequest.ts';
import type { ShardChunk as _tessera_v1_ShardChunk, ShardChunk__Output as _tessera_v1_ShardChunk__Output } from '../../tessera/v1/ShardChunk.ts';

/**
 * A model's files, by name, for a node that joins with only --registry and --model: the registry
 * serves the files beside each manifest it serves, a node its own shard's. Open to anyone; streams
 * are bounded per peer address and in total (RESOURCE_EXHAUSTED, reason TOO_MANY_STREAMS).
 */
export interface ShardFilesClient extends grpc.Client {
  GetShard(argument: _tessera_v1_GetShardRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tessera_v1_ShardChunk__Output>;
  GetShard(argument: _tessera_v1_GetShardRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tessera_v1_ShardChunk__Output>;
  getShard(argument: _tessera_v1_GetShardRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tessera_v1_ShardChunk__Output>;
  getShard(argument: _tessera_v1_GetShardRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tessera_v1_ShardChunk__Output>;
  
}

/**
 * A model's files, by name, for a node that joins with only --registry and --model: the registry
 * serves the files beside each manifest it serves, a node its own shard's. Open to anyone; streams
 * are bounded per peer address and in total (RESOURCE_EXHAUSTED, reason TOO_MANY_STREAMS).
 */
export interface ShardFilesHandlers extends grpc.UntypedServiceImplementation {
  GetShard: grpc.handleServerStreamingCall<_tessera_v1_GetShardRequest__Output, _tessera_v1_ShardChunk>;
  
}

export interface ShardFilesDefinition extends grpc.ServiceDefinition {
  GetShard: MethodDefinition<_tessera_v1_GetShardRequest, _tessera_v1_ShardChunk, _tessera_v1_GetShardRequest__Output, _tessera_v1_ShardChunk__Output>
}
