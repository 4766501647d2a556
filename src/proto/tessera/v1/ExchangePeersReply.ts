// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto

import type { RegistryPeer as _tessera_v1_RegistryPeer, RegistryPeer__Output as _tessera_v1_RegistryPeer__Output } from '../../tessera/v1/RegistryPeer.ts';

export interface ExchangePeersReply {
  'peers'?: (_tessera_v1_RegistryPeer)[];
}

export interface ExchangePeersReply__Output {
  'peers': (_tessera_v1_RegistryPeer__Output)[];
}
