// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto

import type { Signed as _tessera_v1_Signed, Signed__Output as _tessera_v1_Signed__Output } from '../../tessera/v1/Signed.ts';

export interface ExchangePeersRequest {
  /**
   * The caller's own endpoint (empty for a client) and the registries it knows.
   */
  'selfEndpoint'?: (string);
  'known'?: (string)[];
  /**
   * The calling registry's identity for self_endpoint (see RegistryPeer.identity); absent from a client.
   */
  'selfIdentity'?: (_tessera_v1_Signed | null);
}

export interface ExchangePeersRequest__Output {
  /**
   * The caller's own endpoint (empty for a client) and the registries it knows.
   */
  'selfEndpoint': (string);
  'known': (string)[];
  /**
   * The calling registry's identity for self_endpoint (see RegistryPeer.identity); absent from a client.
   */
  'selfIdentity': (_tessera_v1_Signed__Output | null);
}
