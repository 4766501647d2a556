// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AccountReply as _tessera_v1_AccountReply, AccountReply__Output as _tessera_v1_AccountReply__Output } from '../../tessera/v1/AccountReply.ts';
import type { AssignShardReply as _tessera_v1_AssignShardReply, AssignShardReply__Output as _tessera_v1_AssignShardReply__Output } from '../../tessera/v1/AssignShardReply.ts';
import type { ClaimReply as _tessera_v1_ClaimReply, ClaimReply__Output as _tessera_v1_ClaimReply__Output } from '../../tessera/v1/ClaimReply.ts';
import type { DiscoverReply as _tessera_v1_DiscoverReply, DiscoverReply__Output as _tessera_v1_DiscoverReply__Output } from '../../tessera/v1/DiscoverReply.ts';
import type { DiscoverRequest as _tessera_v1_DiscoverRequest, DiscoverRequest__Output as _tessera_v1_DiscoverRequest__Output } from '../../tessera/v1/DiscoverRequest.ts';
import type { ExchangePeersReply as _tessera_v1_ExchangePeersReply, ExchangePeersReply__Output as _tessera_v1_ExchangePeersReply__Output } from '../../tessera/v1/ExchangePeersReply.ts';
import type { ExchangePeersRequest as _tessera_v1_ExchangePeersRequest, ExchangePeersRequest__Output as _tessera_v1_ExchangePeersRequest__Output } from '../../tessera/v1/ExchangePeersRequest.ts';
import type { GetAccountRequest as _tessera_v1_GetAccountRequest, GetAccountRequest__Output as _tessera_v1_GetAccountRequest__Output } from '../../tessera/v1/GetAccountRequest.ts';
import type { GetManifestRequest as _tessera_v1_GetManifestRequest, GetManifestRequest__Output as _tessera_v1_GetManifestRequest__Output } from '../../tessera/v1/GetManifestRequest.ts';
import type { GrantReply as _tessera_v1_GrantReply, GrantReply__Output as _tessera_v1_GrantReply__Output } from '../../tessera/v1/GrantReply.ts';
import type { HeartbeatReply as _tessera_v1_HeartbeatReply, HeartbeatReply__Output as _tessera_v1_HeartbeatReply__Output } from '../../tessera/v1/HeartbeatReply.ts';
import type { ListModelsReply as _tessera_v1_ListModelsReply, ListModelsReply__Output as _tessera_v1_ListModelsReply__Output } from '../../tessera/v1/ListModelsReply.ts';
import type { ListModelsRequest as _tessera_v1_ListModelsRequest, ListModelsRequest__Output as _tessera_v1_ListModelsRequest__Output } from '../../tessera/v1/ListModelsRequest.ts';
import type { ManifestReply as _tessera_v1_ManifestReply, ManifestReply__Output as _tessera_v1_ManifestReply__Output } from '../../tessera/v1/ManifestReply.ts';
import type { RegisterReply as _tessera_v1_RegisterReply, RegisterReply__Output as _tessera_v1_RegisterReply__Output } from '../../tessera/v1/RegisterReply.ts';
import type { RequestUnstakeReply as _tessera_v1_RequestUnstakeReply, RequestUnstakeReply__Output as _tessera_v1_RequestUnstakeReply__Output } from '../../tessera/v1/RequestUnstakeReply.ts';
import type { Signed as _tessera_v1_Signed, Signed__Output as _tessera_v1_Signed__Output } from '../../tessera/v1/Signed.ts';
import type { StakeReply as _tessera_v1_StakeReply, StakeReply__Output as _tessera_v1_StakeReply__Output } from '../../tessera/v1/StakeReply.ts';
import type { UnregisterReply as _tessera_v1_UnregisterReply, UnregisterReply__Output as _tessera_v1_UnregisterReply__Output } from '../../tessera/v1/UnregisterReply.ts';
import type { WithdrawStakeReply as _tessera_v1_WithdrawStakeReply, WithdrawStakeReply__Output as _tessera_v1_WithdrawStakeReply__Output } from '../../tessera/v1/WithdrawStakeReply.ts';

/**
 * Admission, discovery and model manifests. Register, Heartbeat and Unregister carry a Signed
 * announcement (canonical JSON, see src/registry/announcement.ts) whose signer must be its node_id.
 */
export interface RegistryClient extends grpc.Client {
  /**
   * Which shard a joining node should serve (`tessera node --registry … --model …`). Carries a
   * Signed assignment request (canonical JSON, see src/registry/shard-assignment-request.ts) whose
   * signer must be its node_id, refused STAKE_BELOW_MINIMUM below the node stake minimum. The
   * registry picks among the shards that fit the node's free memory the one that leaves the
   * network's weakest shard strongest (src/registry/shard-assignment.ts), and holds it for the node
   * a while so that nodes joining together spread out.
   */
  AssignShard(argument: _tessera_v1_Signed, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AssignShardReply__Output>): grpc.ClientUnaryCall;
  AssignShard(argument: _tessera_v1_Signed, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AssignShardReply__Output>): grpc.ClientUnaryCall;
  AssignShard(argument: _tessera_v1_Signed, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AssignShardReply__Output>): grpc.ClientUnaryCall;
  AssignShard(argument: _tessera_v1_Signed, callback: grpc.requestCallback<_tessera_v1_AssignShardReply__Output>): grpc.ClientUnaryCall;
  /**
   * Which shard a joining node should serve (`tessera node --registry … --model …`). Carries a
   * Signed assignment request (canonical JSON, see src/registry/shard-assignment-request.ts) whose
   * signer must be its node_id, refused STAKE_BELOW_MINIMUM below the node stake minimum. The
   * registry picks among the shards that fit the node's free memory the one that leaves the
   * network's weakest shard strongest (src/registry/shard-assignment.ts), and holds it for the node
   * a while so that nodes joining together spread out.
   */
  assignShard(argument: _tessera_v1_Signed, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AssignShardReply__Output>): grpc.ClientUnaryCall;
  assignShard(argument: _tessera_v1_Signed, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AssignShardReply__Output>): grpc.ClientUnaryCall;
  assignShard(argument: _tessera_v1_Signed, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AssignShardReply__Output>): grpc.ClientUnaryCall;
  assignShard(argument: _tessera_v1_Signed, callback: grpc.requestCallback<_tessera_v1_AssignShardReply__Output>): grpc.ClientUnaryCall;
  
  Claim(argument: _tessera_v1_Signed, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ClaimReply__Output>): grpc.ClientUnaryCall;
  Claim(argument: _tessera_v1_Signed, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ClaimReply__Output>): grpc.ClientUnaryCall;
  Claim(argument: _tessera_v1_Signed, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ClaimReply__Output>): grpc.ClientUnaryCall;
  Claim(argument: _tessera_v1_Signed, callback: grpc.requestCallback<_tessera_v1_ClaimReply__Output>): grpc.ClientUnaryCall;
  claim(argument: _tessera_v1_Signed, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ClaimReply__Output>): grpc.ClientUnaryCall;
  claim(argument: _tessera_v1_Signed, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ClaimReply__Output>): grpc.ClientUnaryCall;
  claim(argument: _tessera_v1_Signed, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ClaimReply__Output>): grpc.ClientUnaryCall;
  claim(argument: _tessera_v1_Signed, callback: grpc.requestCallback<_tessera_v1_ClaimReply__Output>): grpc.ClientUnaryCall;
  
  Discover(argument: _tessera_v1_DiscoverRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DiscoverReply__Output>): grpc.ClientUnaryCall;
  Discover(argument: _tessera_v1_DiscoverRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_DiscoverReply__Output>): grpc.ClientUnaryCall;
  Discover(argument: _tessera_v1_DiscoverRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DiscoverReply__Output>): grpc.ClientUnaryCall;
  Discover(argument: _tessera_v1_DiscoverRequest, callback: grpc.requestCallback<_tessera_v1_DiscoverReply__Output>): grpc.ClientUnaryCall;
  discover(argument: _tessera_v1_DiscoverRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DiscoverReply__Output>): grpc.ClientUnaryCall;
  discover(argument: _tessera_v1_DiscoverRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_DiscoverReply__Output>): grpc.ClientUnaryCall;
  discover(argument: _tessera_v1_DiscoverRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DiscoverReply__Output>): grpc.ClientUnaryCall;
  discover(argument: _tessera_v1_DiscoverRequest, callback: grpc.requestCallback<_tessera_v1_DiscoverReply__Output>): grpc.ClientUnaryCall;
  
  ExchangePeers(argument: _tessera_v1_ExchangePeersRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ExchangePeersReply__Output>): grpc.ClientUnaryCall;
  ExchangePeers(argument: _tessera_v1_ExchangePeersRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ExchangePeersReply__Output>): grpc.ClientUnaryCall;
  ExchangePeers(argument: _tessera_v1_ExchangePeersRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ExchangePeersReply__Output>): grpc.ClientUnaryCall;
  ExchangePeers(argument: _tessera_v1_ExchangePeersRequest, callback: grpc.requestCallback<_tessera_v1_ExchangePeersReply__Output>): grpc.ClientUnaryCall;
  exchangePeers(argument: _tessera_v1_ExchangePeersRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ExchangePeersReply__Output>): grpc.ClientUnaryCall;
  exchangePeers(argument: _tessera_v1_ExchangePeersRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ExchangePeersReply__Output>): grpc.ClientUnaryCall;
  exchangePeers(argument: _tessera_v1_ExchangePeersRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ExchangePeersReply__Output>): grpc.ClientUnaryCall;
  exchangePeers(argument: _tessera_v1_ExchangePeersRequest, callback: grpc.requestCallback<_tessera_v1_ExchangePeersReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * Anyone's account, and where the cluster settles (so an operator needs only the registry).
   */
  GetAccount(argument: _tessera_v1_GetAccountRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AccountReply__Output>): grpc.ClientUnaryCall;
  GetAccount(argument: _tessera_v1_GetAccountRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AccountReply__Output>): grpc.ClientUnaryCall;
  GetAccount(argument: _tessera_v1_GetAccountRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AccountReply__Output>): grpc.ClientUnaryCall;
  GetAccount(argument: _tessera_v1_GetAccountRequest, callback: grpc.requestCallback<_tessera_v1_AccountReply__Output>): grpc.ClientUnaryCall;
  /**
   * Anyone's account, and where the cluster settles (so an operator needs only the registry).
   */
  getAccount(argument: _tessera_v1_GetAccountRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AccountReply__Output>): grpc.ClientUnaryCall;
  getAccount(argument: _tessera_v1_GetAccountRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AccountReply__Output>): grpc.ClientUnaryCall;
  getAccount(argument: _tessera_v1_GetAccountRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AccountReply__Output>): grpc.ClientUnaryCall;
  getAccount(argument: _tessera_v1_GetAccountRequest, callback: grpc.requestCallback<_tessera_v1_AccountReply__Output>): grpc.ClientUnaryCall;
  
  GetManifest(argument: _tessera_v1_GetManifestRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ManifestReply__Output>): grpc.ClientUnaryCall;
  GetManifest(argument: _tessera_v1_GetManifestRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ManifestReply__Output>): grpc.ClientUnaryCall;
  GetManifest(argument: _tessera_v1_GetManifestRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ManifestReply__Output>): grpc.ClientUnaryCall;
  GetManifest(argument: _tessera_v1_GetManifestRequest, callback: grpc.requestCallback<_tessera_v1_ManifestReply__Output>): grpc.ClientUnaryCall;
  getManifest(argument: _tessera_v1_GetManifestRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ManifestReply__Output>): grpc.ClientUnaryCall;
  getManifest(argument: _tessera_v1_GetManifestRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ManifestReply__Output>): grpc.ClientUnaryCall;
  getManifest(argument: _tessera_v1_GetManifestRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ManifestReply__Output>): grpc.ClientUnaryCall;
  getManifest(argument: _tessera_v1_GetManifestRequest, callback: grpc.requestCallback<_tessera_v1_ManifestReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * Credits stake and/or a client deposit on the registry's ledger. Carries a Signed grant
   * (canonical JSON, see src/registry/grant.ts) whose signer must be one of the cluster config's
   * operatorKeys: the only way value enters the ledger besides earnings. A registry settling on an
   * escrow contract refuses it (FAILED_PRECONDITION): there deposits and stakes are transfers.
   */
  Grant(argument: _tessera_v1_Signed, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_GrantReply__Output>): grpc.ClientUnaryCall;
  Grant(argument: _tessera_v1_Signed, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_GrantReply__Output>): grpc.ClientUnaryCall;
  Grant(argument: _tessera_v1_Signed, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_GrantReply__Output>): grpc.ClientUnaryCall;
  Grant(argument: _tessera_v1_Signed, callback: grpc.requestCallback<_tessera_v1_GrantReply__Output>): grpc.ClientUnaryCall;
  /**
   * Credits stake and/or a client deposit on the registry's ledger. Carries a Signed grant
   * (canonical JSON, see src/registry/grant.ts) whose signer must be one of the cluster config's
   * operatorKeys: the only way value enters the ledger besides earnings. A registry settling on an
   * escrow contract refuses it (FAILED_PRECONDITION): there deposits and stakes are transfers.
   */
  grant(argument: _tessera_v1_Signed, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_GrantReply__Output>): grpc.ClientUnaryCall;
  grant(argument: _tessera_v1_Signed, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_GrantReply__Output>): grpc.ClientUnaryCall;
  grant(argument: _tessera_v1_Signed, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_GrantReply__Output>): grpc.ClientUnaryCall;
  grant(argument: _tessera_v1_Signed, callback: grpc.requestCallback<_tessera_v1_GrantReply__Output>): grpc.ClientUnaryCall;
  
  Heartbeat(argument: _tessera_v1_Signed, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _tessera_v1_Signed, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _tessera_v1_Signed, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _tessera_v1_Signed, callback: grpc.requestCallback<_tessera_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _tessera_v1_Signed, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _tessera_v1_Signed, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _tessera_v1_Signed, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _tessera_v1_Signed, callback: grpc.requestCallback<_tessera_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  
  ListModels(argument: _tessera_v1_ListModelsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListModelsReply__Output>): grpc.ClientUnaryCall;
  ListModels(argument: _tessera_v1_ListModelsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ListModelsReply__Output>): grpc.ClientUnaryCall;
  ListModels(argument: _tessera_v1_ListModelsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListModelsReply__Output>): grpc.ClientUnaryCall;
  ListModels(argument: _tessera_v1_ListModelsRequest, callback: grpc.requestCallback<_tessera_v1_ListModelsReply__Output>): grpc.ClientUnaryCall;
  listModels(argument: _tessera_v1_ListModelsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListModelsReply__Output>): grpc.ClientUnaryCall;
  listModels(argument: _tessera_v1_ListModelsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ListModelsReply__Output>): grpc.ClientUnaryCall;
  listModels(argument: _tessera_v1_ListModelsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListModelsReply__Output>): grpc.ClientUnaryCall;
  listModels(argument: _tessera_v1_ListModelsRequest, callback: grpc.requestCallback<_tessera_v1_ListModelsReply__Output>): grpc.ClientUnaryCall;
  
  Register(argument: _tessera_v1_Signed, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_RegisterReply__Output>): grpc.ClientUnaryCall;
  Register(argument: _tessera_v1_Signed, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_RegisterReply__Output>): grpc.ClientUnaryCall;
  Register(argument: _tessera_v1_Signed, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_RegisterReply__Output>): grpc.ClientUnaryCall;
  Register(argument: _tessera_v1_Signed, callback: grpc.requestCallback<_tessera_v1_RegisterReply__Output>): grpc.ClientUnaryCall;
  register(argument: _tessera_v1_Signed, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_RegisterReply__Output>): grpc.ClientUnaryCall;
  register(argument: _tessera_v1_Signed, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_RegisterReply__Output>): grpc.ClientUnaryCall;
  register(argument: _tessera_v1_Signed, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_RegisterReply__Output>): grpc.ClientUnaryCall;
  register(argument: _tessera_v1_Signed, callback: grpc.requestCallback<_tessera_v1_RegisterReply__Output>): grpc.ClientUnaryCall;
  
  RequestUnstake(argument: _tessera_v1_Signed, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_RequestUnstakeReply__Output>): grpc.ClientUnaryCall;
  RequestUnstake(argument: _tessera_v1_Signed, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_RequestUnstakeReply__Output>): grpc.ClientUnaryCall;
  RequestUnstake(argument: _tessera_v1_Signed, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_RequestUnstakeReply__Output>): grpc.ClientUnaryCall;
  RequestUnstake(argument: _tessera_v1_Signed, callback: grpc.requestCallback<_tessera_v1_RequestUnstakeReply__Output>): grpc.ClientUnaryCall;
  requestUnstake(argument: _tessera_v1_Signed, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_RequestUnstakeReply__Output>): grpc.ClientUnaryCall;
  requestUnstake(argument: _tessera_v1_Signed, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_RequestUnstakeReply__Output>): grpc.ClientUnaryCall;
  requestUnstake(argument: _tessera_v1_Signed, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_RequestUnstakeReply__Output>): grpc.ClientUnaryCall;
  requestUnstake(argument: _tessera_v1_Signed, callback: grpc.requestCallback<_tessera_v1_RequestUnstakeReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * An operator's own bond and earnings. Each carries a Signed operator request (canonical JSON,
   * see src/registry/operator-request.ts) whose signer must be its node_id, under the action's own
   * signature domain. They act on the registry's ledger, where Stake bonds the node's own claimable
   * earnings (refused INSUFFICIENT_FUNDS beyond them: the ledger holds no other money of the node's);
   * a registry settling on an escrow contract refuses them (FAILED_PRECONDITION): the node sends
   * those transactions from its own account.
   */
  Stake(argument: _tessera_v1_Signed, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_StakeReply__Output>): grpc.ClientUnaryCall;
  Stake(argument: _tessera_v1_Signed, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_StakeReply__Output>): grpc.ClientUnaryCall;
  Stake(argument: _tessera_v1_Signed, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_StakeReply__Output>): grpc.ClientUnaryCall;
  Stake(argument: _tessera_v1_Signed, callback: grpc.requestCallback<_tessera_v1_StakeReply__Output>): grpc.ClientUnaryCall;
  /**
   * An operator's own bond and earnings. Each carries a Signed operator request (canonical JSON,
   * see src/registry/operator-request.ts) whose signer must be its node_id, under the action's own
   * signature domain. They act on the registry's ledger, where Stake bonds the node's own claimable
   * earnings (refused INSUFFICIENT_FUNDS beyond them: the ledger holds no other money of the node's);
   * a registry settling on an escrow contract refuses them (FAILED_PRECONDITION): the node sends
   * those transactions from its own account.
   */
  stake(argument: _tessera_v1_Signed, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_StakeReply__Output>): grpc.ClientUnaryCall;
  stake(argument: _tessera_v1_Signed, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_StakeReply__Output>): grpc.ClientUnaryCall;
  stake(argument: _tessera_v1_Signed, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_StakeReply__Output>): grpc.ClientUnaryCall;
  stake(argument: _tessera_v1_Signed, callback: grpc.requestCallback<_tessera_v1_StakeReply__Output>): grpc.ClientUnaryCall;
  
  Unregister(argument: _tessera_v1_Signed, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_UnregisterReply__Output>): grpc.ClientUnaryCall;
  Unregister(argument: _tessera_v1_Signed, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_UnregisterReply__Output>): grpc.ClientUnaryCall;
  Unregister(argument: _tessera_v1_Signed, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_UnregisterReply__Output>): grpc.ClientUnaryCall;
  Unregister(argument: _tessera_v1_Signed, callback: grpc.requestCallback<_tessera_v1_UnregisterReply__Output>): grpc.ClientUnaryCall;
  unregister(argument: _tessera_v1_Signed, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_UnregisterReply__Output>): grpc.ClientUnaryCall;
  unregister(argument: _tessera_v1_Signed, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_UnregisterReply__Output>): grpc.ClientUnaryCall;
  unregister(argument: _tessera_v1_Signed, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_UnregisterReply__Output>): grpc.ClientUnaryCall;
  unregister(argument: _tessera_v1_Signed, callback: grpc.requestCallback<_tessera_v1_UnregisterReply__Output>): grpc.ClientUnaryCall;
  
  WithdrawStake(argument: _tessera_v1_Signed, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_WithdrawStakeReply__Output>): grpc.ClientUnaryCall;
  WithdrawStake(argument: _tessera_v1_Signed, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_WithdrawStakeReply__Output>): grpc.ClientUnaryCall;
  WithdrawStake(argument: _tessera_v1_Signed, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_WithdrawStakeReply__Output>): grpc.ClientUnaryCall;
  WithdrawStake(argument: _tessera_v1_Signed, callback: grpc.requestCallback<_tessera_v1_WithdrawStakeReply__Output>): grpc.ClientUnaryCall;
  withdrawStake(argument: _tessera_v1_Signed, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_WithdrawStakeReply__Output>): grpc.ClientUnaryCall;
  withdrawStake(argument: _tessera_v1_Signed, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_WithdrawStakeReply__Output>): grpc.ClientUnaryCall;
  withdrawStake(argument: _tessera_v1_Signed, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_WithdrawStakeReply__Output>): grpc.ClientUnaryCall;
  withdrawStake(argument: _tessera_v1_Signed, callback: grpc.requestCallback<_tessera_v1_WithdrawStakeReply__Output>): grpc.ClientUnaryCall;
  
}

/**
 * Admission, discovery and model manifests. Register, Heartbeat and Unregister carry a Signed
 * announcement (canonical JSON, see src/registry/announcement.ts) whose signer must be its node_id.
 */
export interface RegistryHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Which shard a joining node should serve (`tessera node --registry … --model …`). Carries a
   * Signed assignment request (canonical JSON, see src/registry/shard-assignment-request.ts) whose
   * signer must be its node_id, refused STAKE_BELOW_MINIMUM below the node stake minimum. The
   * registry picks among the shards that fit the node's free memory the one that leaves the
   * network's weakest shard strongest (src/registry/shard-assignment.ts), and holds it for the node
   * a while so that nodes joining together spread out.
   */
  AssignShard: grpc.handleUnaryCall<_tessera_v1_Signed__Output, _tessera_v1_AssignShardReply>;
  
  Claim: grpc.handleUnaryCall<_tessera_v1_Signed__Output, _tessera_v1_ClaimReply>;
  
  Discover: grpc.handleUnaryCall<_tessera_v1_DiscoverRequest__Output, _tessera_v1_DiscoverReply>;
  
  ExchangePeers: grpc.handleUnaryCall<_tessera_v1_ExchangePeersRequest__Output, _tessera_v1_ExchangePeersReply>;
  
  /**
   * Anyone's account, and where the cluster settles (so an operator needs only the registry).
   */
  GetAccount: grpc.handleUnaryCall<_tessera_v1_GetAccountRequest__Output, _tessera_v1_AccountReply>;
  
  GetManifest: grpc.handleUnaryCall<_tessera_v1_GetManifestRequest__Output, _tessera_v1_ManifestReply>;
  
  /**
   * Credits stake and/or a client deposit on the registry's ledger. Carries a Signed grant
   * (canonical JSON, see src/registry/grant.ts) whose signer must be one of the cluster config's
   * operatorKeys: the only way value enters the ledger besides earnings. A registry settling on an
   * escrow contract refuses it (FAILED_PRECONDITION): there deposits and stakes are transfers.
   */
  Grant: grpc.handleUnaryCall<_tessera_v1_Signed__Output, _tessera_v1_GrantReply>;
  
  Heartbeat: grpc.handleUnaryCall<_tessera_v1_Signed__Output, _tessera_v1_HeartbeatReply>;
  
  ListModels: grpc.handleUnaryCall<_tessera_v1_ListModelsRequest__Output, _tessera_v1_ListModelsReply>;
  
  Register: grpc.handleUnaryCall<_tessera_v1_Signed__Output, _tessera_v1_RegisterReply>;
  
  RequestUnstake: grpc.handleUnaryCall<_tessera_v1_Signed__Output, _tessera_v1_RequestUnstakeReply>;
  
  /**
   * An operator's own bond and earnings. Each carries a Signed operator request (canonical JSON,
   * see src/registry/operator-request.ts) whose signer must be its node_id, under the action's own
   * signature domain. They act on the registry's ledger, where Stake bonds the node's own claimable
   * earnings (refused INSUFFICIENT_FUNDS beyond them: the ledger holds no other money of the node's);
   * a registry settling on an escrow contract refuses them (FAILED_PRECONDITION): the node sends
   * those transactions from its own account.
   */
  Stake: grpc.handleUnaryCall<_tessera_v1_Signed__Output, _tessera_v1_StakeReply>;
  
  Unregister: grpc.handleUnaryCall<_tessera_v1_Signed__Output, _tessera_v1_UnregisterReply>;
  
  WithdrawStake: grpc.handleUnaryCall<_tessera_v1_Signed__Output, _tessera_v1_WithdrawStakeReply>;
  
}

export interface RegistryDefinition extends grpc.ServiceDefinition {
  AssignShard: MethodDefinition<_tessera_v1_Signed, _tessera_v1_AssignShardReply, _tessera_v1_Signed__Output, _tessera_v1_AssignShardReply__Output>
  Claim: MethodDefinition<_tessera_v1_Signed, _tessera_v1_ClaimReply, _tessera_v1_Signed__Output, _tessera_v1_ClaimReply__Output>
  Discover: MethodDefinition<_tessera_v1_DiscoverRequest, _tessera_v1_DiscoverReply, _tessera_v1_DiscoverRequest__Output, _tessera_v1_DiscoverReply__Output>
  ExchangePeers: MethodDefinition<_tessera_v1_ExchangePeersRequest, _tessera_v1_ExchangePeersReply, _tessera_v1_ExchangePeersRequest__Output, _tessera_v1_ExchangePeersReply__Output>
  GetAccount: MethodDefinition<_tessera_v1_GetAccountRequest, _tessera_v1_AccountReply, _tessera_v1_GetAccountRequest__Output, _tessera_v1_AccountReply__Output>
  GetManifest: MethodDefinition<_tessera_v1_GetManifestRequest, _tessera_v1_ManifestReply, _tessera_v1_GetManifestRequest__Output, _tessera_v1_ManifestReply__Output>
  Grant: MethodDefinition<_tessera_v1_Signed, _tessera_v1_GrantReply, _tessera_v1_Signed__Output, _tessera_v1_GrantReply__Output>
  Heartbeat: MethodDefinition<_tessera_v1_Signed, _tessera_v1_HeartbeatReply, _tessera_v1_Signed__Output, _tessera_v1_HeartbeatReply__Output>
  ListModels: MethodDefinition<_tessera_v1_ListModelsRequest, _tessera_v1_ListModelsReply, _tessera_v1_ListModelsRequest__Output, _tessera_v1_ListModelsReply__Output>
  Register: MethodDefinition<_tessera_v1_Signed, _tessera_v1_RegisterReply, _tessera_v1_Signed__Output, _tessera_v1_RegisterReply__Output>
  RequestUnstake: MethodDefinition<_tessera_v1_Signed, _tessera_v1_RequestUnstakeReply, _tessera_v1_Signed__Output, _tessera_v1_RequestUnstakeReply__Output>
  Stake: MethodDefinition<_tessera_v1_Signed, _tessera_v1_StakeReply, _tessera_v1_Signed__Output, _tessera_v1_StakeReply__Output>
  Unregister: MethodDefinition<_tessera_v1_Signed, _tessera_v1_UnregisterReply, _tessera_v1_Signed__Output, _tessera_v1_UnregisterReply__Output>
  WithdrawStake: MethodDefinition<_tessera_v1_Signed, _tessera_v1_WithdrawStakeReply, _tessera_v1_Signed__Output, _tessera_v1_WithdrawStakeReply__Output>
}
