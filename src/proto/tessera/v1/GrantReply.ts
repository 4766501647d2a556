// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto


export interface GrantReply {
  /**
   * The grantee's whole stake, and its balance as a client, after this grant.
   */
  'stake'?: (string);
  'balance'?: (string);
}

export interface GrantReply__Output {
  /**
   * The grantee's whole stake, and its balance as a client, after this grant.
   */
  'stake': (string);
  'balance': (string);
}
