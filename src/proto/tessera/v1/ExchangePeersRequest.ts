// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto


export interface ExchangePeersRequest {
  /**
   * The caller's own endpoint (empty for a client) and the registries it knows.
   */
  'selfEndpoint'?: (string);
  'known'?: (string)[];
}

export interface ExchangePeersRequest__Output {
  /**
   * The caller's own endpoint (empty for a client) and the registries it knows.
   */
  'selfEndpoint': (string);
  'known': (string)[];
}
