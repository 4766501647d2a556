// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/verifier.proto


export interface CompleteTicketsReply {
  /**
   * Tickets now counted as audited passes.
   */
  'passed'?: (number);
}

export interface CompleteTicketsReply__Output {
  /**
   * Tickets now counted as audited passes.
   */
  'passed': (number);
}
