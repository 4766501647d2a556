// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto


export interface GetAccountRequest {
  /**
   * A 0x-prefixed 20-byte address (a node id).
   */
  'address'?: (string);
}

export interface GetAccountRequest__Output {
  /**
   * A 0x-prefixed 20-byte address (a node id).
   */
  'address': (string);
}
