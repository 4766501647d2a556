// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/membership.proto

import type { MemberStatus as _tessera_v1_MemberStatus, MemberStatus__Output as _tessera_v1_MemberStatus__Output } from '../../tessera/v1/MemberStatus.ts';
import type { Long } from '@grpc/proto-loader';

export interface Member {
  'nodeId'?: (string);
  'role'?: (string);
  'modelId'?: (string);
  /**
   * The shards [shard_index, shard_end) a compute node holds, as it registered.
   */
  'shardIndex'?: (number);
  /**
   * The hex public key the member signs its compute shares with, as it registered it.
   */
  'shareKey'?: (string);
  'endpoint'?: (string);
  'tls'?: (boolean);
  'status'?: (_tessera_v1_MemberStatus);
  'lastSeenMs'?: (number | string | Long);
  /**
   * Every share key the member ever registered, the current one first: statements it signed before
   * it changed its key, unregistered or was evicted stay checkable. A member that left is answered
   * (status MEMBER_EVICTED) from this history.
   */
  'shareKeys'?: (string)[];
  'shardEnd'?: (number);
}

export interface Member__Output {
  'nodeId': (string);
  'role': (string);
  'modelId': (string);
  /**
   * The shards [shard_index, shard_end) a compute node holds, as it registered.
   */
  'shardIndex': (number);
  /**
   * The hex public key the member signs its compute shares with, as it registered it.
   */
  'shareKey': (string);
  'endpoint': (string);
  'tls': (boolean);
  'status': (_tessera_v1_MemberStatus__Output);
  'lastSeenMs': (number);
  /**
   * Every share key the member ever registered, the current one first: statements it signed before
   * it changed its key, unregistered or was evicted stay checkable. A member that left is answered
   * (status MEMBER_EVICTED) from this history.
   */
  'shareKeys': (string)[];
  'shardEnd': (number);
}
