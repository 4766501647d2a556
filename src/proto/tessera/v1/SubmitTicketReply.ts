// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/verifier.proto


export interface SubmitTicketReply {
  /**
   * Hex sha256 of the commitment's signed message.
   */
  'ticketId'?: (string);
}

export interface SubmitTicketReply__Output {
  /**
   * Hex sha256 of the commitment's signed message.
   */
  'ticketId': (string);
}
