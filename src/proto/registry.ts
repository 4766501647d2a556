// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type {
  AccountReply as _tessera_v1_AccountReply,
  AccountReply__Output as _tessera_v1_AccountReply__Output,
} from './tessera/v1/AccountReply.ts';
import type {
  AssignShardReply as _tessera_v1_AssignShardReply,
  AssignShardReply__Output as _tessera_v1_AssignShardReply__Output,
} from './tessera/v1/AssignShardReply.ts';
import type {
  ClaimReply as _tessera_v1_ClaimReply,
  ClaimReply__Output as _tessera_v1_ClaimReply__Output,
} from './tessera/v1/ClaimReply.ts';
import type {
  DiscoverReply as _tessera_v1_DiscoverReply,
  DiscoverReply__Output as _tessera_v1_DiscoverReply__Output,
} from './tessera/v1/DiscoverReply.ts';
import type {
  DiscoverRequest as _tessera_v1_DiscoverRequest,
  DiscoverRequest__Output as _tessera_v1_DiscoverRequest__Output,
} from './tessera/v1/DiscoverRequest.ts';
import type {
  Escrow as _tessera_v1_Escrow,
  Escrow__Output as _tessera_v1_Escrow__Output,
} from './tessera/v1/Escrow.ts';
import type {
  ExchangePeersReply as _tessera_v1_ExchangePeersReply,
  ExchangePeersReply__Output as _tessera_v1_ExchangePeersReply__Output,
} from './tessera/v1/ExchangePeersReply.ts';
import type {
  ExchangePeersRequest as _tessera_v1_ExchangePeersRequest,
  ExchangePeersRequest__Output as _tessera_v1_ExchangePeersRequest__Output,
} from './tessera/v1/ExchangePeersRequest.ts';
import type {
  GetAccountRequest as _tessera_v1_GetAccountRequest,
  GetAccountRequest__Output as _tessera_v1_GetAccountRequest__Output,
} from './tessera/v1/GetAccountRequest.ts';
import type {
  GetManifestRequest as _tessera_v1_GetManifestRequest,
  GetManifestRequest__Output as _tessera_v1_GetManifestRequest__Output,
} from './tessera/v1/GetManifestRequest.ts';
import type {
  GetShardRequest as _tessera_v1_GetShardRequest,
  GetShardRequest__Output as _tessera_v1_GetShardRequest__Output,
} from './tessera/v1/GetShardRequest.ts';
import type {
  GrantReply as _tessera_v1_GrantReply,
  GrantReply__Output as _tessera_v1_GrantReply__Output,
} from './tessera/v1/GrantReply.ts';
import type {
  HeartbeatReply as _tessera_v1_HeartbeatReply,
  HeartbeatReply__Output as _tessera_v1_HeartbeatReply__Output,
} from './tessera/v1/HeartbeatReply.ts';
import type {
  ListModelsReply as _tessera_v1_ListModelsReply,
  ListModelsReply__Output as _tessera_v1_ListModelsReply__Output,
} from './tessera/v1/ListModelsReply.ts';
import type {
  ListModelsRequest as _tessera_v1_ListModelsRequest,
  ListModelsRequest__Output as _tessera_v1_ListModelsRequest__Output,
} from './tessera/v1/ListModelsRequest.ts';
import type {
  ManifestReply as _tessera_v1_ManifestReply,
  ManifestReply__Output as _tessera_v1_ManifestReply__Output,
} from './tessera/v1/ManifestReply.ts';
import type {
  ModelSummary as _tessera_v1_ModelSummary,
  ModelSummary__Output as _tessera_v1_ModelSummary__Output,
} from './tessera/v1/ModelSummary.ts';
import type {
  NodeInfo as _tessera_v1_NodeInfo,
  NodeInfo__Output as _tessera_v1_NodeInfo__Output,
} from './tessera/v1/NodeInfo.ts';
import type {
  OwedAudit as _tessera_v1_OwedAudit,
  OwedAudit__Output as _tessera_v1_OwedAudit__Output,
} from './tessera/v1/OwedAudit.ts';
import type {
  RegisterReply as _tessera_v1_RegisterReply,
  RegisterReply__Output as _tessera_v1_RegisterReply__Output,
} from './tessera/v1/RegisterReply.ts';
import type {
  RegistryClient as _tessera_v1_RegistryClient,
  RegistryDefinition as _tessera_v1_RegistryDefinition,
} from './tessera/v1/Registry.ts';
import type {
  RegistryPeer as _tessera_v1_RegistryPeer,
  RegistryPeer__Output as _tessera_v1_RegistryPeer__Output,
} from './tessera/v1/RegistryPeer.ts';
import type {
  RequestUnstakeReply as _tessera_v1_RequestUnstakeReply,
  RequestUnstakeReply__Output as _tessera_v1_RequestUnstakeReply__Output,
} from './tessera/v1/RequestUnstakeReply.ts';
import type {
  ShardChunk as _tessera_v1_ShardChunk,
  ShardChunk__Output as _tessera_v1_ShardChunk__Output,
} from './tessera/v1/ShardChunk.ts';
import type {
  ShardFilesClient as _tessera_v1_ShardFilesClient,
  ShardFilesDefinition as _tessera_v1_ShardFilesDefinition,
} from './tessera/v1/ShardFiles.ts';
import type {
  Signed as _tessera_v1_Signed,
  Signed__Output as _tessera_v1_Signed__Output,
} from './tessera/v1/Signed.ts';
import type {
  StakeReply as _tessera_v1_StakeReply,
  StakeReply__Output as _tessera_v1_StakeReply__Output,
} from './tessera/v1/StakeReply.ts';
import type {
  Tensor as _tessera_v1_Tensor,
  Tensor__Output as _tessera_v1_Tensor__Output,
} from './tessera/v1/Tensor.ts';
import type {
  UnregisterReply as _tessera_v1_UnregisterReply,
  UnregisterReply__Output as _tessera_v1_UnregisterReply__Output,
} from './tessera/v1/UnregisterReply.ts';
import type {
  WithdrawStakeReply as _tessera_v1_WithdrawStakeReply,
  WithdrawStakeReply__Output as _tessera_v1_WithdrawStakeReply__Output,
} from './tessera/v1/WithdrawStakeReply.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new (...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tessera: {
    v1: {
      AccountReply: MessageTypeDefinition<_tessera_v1_AccountReply, _tessera_v1_AccountReply__Output>;
      AssignShardReply: MessageTypeDefinition<_tessera_v1_AssignShardReply, _tessera_v1_AssignShardReply__Output>;
      ClaimReply: MessageTypeDefinition<_tessera_v1_ClaimReply, _tessera_v1_ClaimReply__Output>;
      DType: EnumTypeDefinition;
      DiscoverReply: MessageTypeDefinition<_tessera_v1_DiscoverReply, _tessera_v1_DiscoverReply__Output>;
      DiscoverRequest: MessageTypeDefinition<_tessera_v1_DiscoverRequest, _tessera_v1_DiscoverRequest__Output>;
      Escrow: MessageTypeDefinition<_tessera_v1_Escrow, _tessera_v1_Escrow__Output>;
      ExchangePeersReply: MessageTypeDefinition<_tessera_v1_ExchangePeersReply, _tessera_v1_ExchangePeersReply__Output>;
      ExchangePeersRequest: MessageTypeDefinition<
        _tessera_v1_ExchangePeersRequest,
        _tessera_v1_ExchangePeersRequest__Output
      >;
      GetAccountRequest: MessageTypeDefinition<_tessera_v1_GetAccountRequest, _tessera_v1_GetAccountRequest__Output>;
      GetManifestRequest: MessageTypeDefinition<_tessera_v1_GetManifestRequest, _tessera_v1_GetManifestRequest__Output>;
      GetShardRequest: MessageTypeDefinition<_tessera_v1_GetShardRequest, _tessera_v1_GetShardRequest__Output>;
      GrantReply: MessageTypeDefinition<_tessera_v1_GrantReply, _tessera_v1_GrantReply__Output>;
      HeartbeatReply: MessageTypeDefinition<_tessera_v1_HeartbeatReply, _tessera_v1_HeartbeatReply__Output>;
      ListModelsReply: MessageTypeDefinition<_tessera_v1_ListModelsReply, _tessera_v1_ListModelsReply__Output>;
      ListModelsRequest: MessageTypeDefinition<_tessera_v1_ListModelsRequest, _tessera_v1_ListModelsRequest__Output>;
      ManifestReply: MessageTypeDefinition<_tessera_v1_ManifestReply, _tessera_v1_ManifestReply__Output>;
      ModelSummary: MessageTypeDefinition<_tessera_v1_ModelSummary, _tessera_v1_ModelSummary__Output>;
      NodeInfo: MessageTypeDefinition<_tessera_v1_NodeInfo, _tessera_v1_NodeInfo__Output>;
      OwedAudit: MessageTypeDefinition<_tessera_v1_OwedAudit, _tessera_v1_OwedAudit__Output>;
      RegisterReply: MessageTypeDefinition<_tessera_v1_RegisterReply, _tessera_v1_RegisterReply__Output>;
      /**
       * Admission, discovery and model manifests. Register, Heartbeat and Unregister carry a Signed
       * announcement (canonical JSON, see src/registry/announcement.ts) whose signer must be its node_id.
       */
      Registry: SubtypeConstructor<typeof grpc.Client, _tessera_v1_RegistryClient> & {
        service: _tessera_v1_RegistryDefinition;
      };
      RegistryPeer: MessageTypeDefinition<_tessera_v1_RegistryPeer, _tessera_v1_RegistryPeer__Output>;
      RequestUnstakeReply: MessageTypeDefinition<
        _tessera_v1_RequestUnstakeReply,
        _tessera_v1_RequestUnstakeReply__Output
      >;
      ShardChunk: MessageTypeDefinition<_tessera_v1_ShardChunk, _tessera_v1_ShardChunk__Output>;
      /**
       * A model's files, by name, for a node that joins with only --registry and --model: the registry
       * serves the files beside each manifest it serves, a node its own shard's. Open to anyone; streams
       * are bounded per peer address and in total (RESOURCE_EXHAUSTED, reason TOO_MANY_STREAMS).
       */
      ShardFiles: SubtypeConstructor<typeof grpc.Client, _tessera_v1_ShardFilesClient> & {
        service: _tessera_v1_ShardFilesDefinition;
      };
      Signed: MessageTypeDefinition<_tessera_v1_Signed, _tessera_v1_Signed__Output>;
      StakeReply: MessageTypeDefinition<_tessera_v1_StakeReply, _tessera_v1_StakeReply__Output>;
      Tensor: MessageTypeDefinition<_tessera_v1_Tensor, _tessera_v1_Tensor__Output>;
      UnregisterReply: MessageTypeDefinition<_tessera_v1_UnregisterReply, _tessera_v1_UnregisterReply__Output>;
      WithdrawStakeReply: MessageTypeDefinition<_tessera_v1_WithdrawStakeReply, _tessera_v1_WithdrawStakeReply__Output>;
    };
  };
}
