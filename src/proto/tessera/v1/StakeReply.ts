// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto


export interface StakeReply {
  /**
   * The node's whole stake after this one.
   */
  'stake'?: (string);
}

export interface StakeReply__Output {
  /**
   * The node's whole stake after this one.
   */
  'stake': (string);
}
