// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto

import type { Signed as _tessera_v1_Signed, Signed__Output as _tessera_v1_Signed__Output } from '../../tessera/v1/Signed.ts';
import type { Long } from '@grpc/proto-loader';

export interface RegistryPeer {
  'endpoint'?: (string);
  'clusterId'?: (string);
  'lastSeenMs'?: (number | string | Long);
  /**
   * The registry's identity (src/registry/registry-identity.ts): canonical JSON {registryId,
   * clusterId, endpoint} signed by a registry key the cluster config lists. Absent for a seed
   * without a key. A registry learns a peer only as a seed of its config or with such an identity.
   */
  'identity'?: (_tessera_v1_Signed | null);
}

export interface RegistryPeer__Output {
  'endpoint': (string);
  'clusterId': (string);
  'lastSeenMs': (number);
  /**
   * The registry's identity (src/registry/registry-identity.ts): canonical JSON {registryId,
   * clusterId, endpoint} signed by a registry key the cluster config lists. Absent for a seed
   * without a key. A registry learns a peer only as a seed of its config or with such an identity.
   */
  'identity': (_tessera_v1_Signed__Output | null);
}
