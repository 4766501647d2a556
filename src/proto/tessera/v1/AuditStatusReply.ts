// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/verifier.proto


export interface AuditStatusReply {
  'ticketsQueued'?: (number);
  'ticketsPassed'?: (number);
  'proofsConfirmed'?: (number);
  'proofsUnconfirmed'?: (number);
  'proofsRefuted'?: (number);
  /**
   * Audit requests whose ticket never came by the deadline.
   */
  'refusals'?: (number);
  /**
   * Audit requests still within their deadline.
   */
  'requestsPending'?: (number);
  'banned'?: (boolean);
  /**
   * Decimal, summed over confirmed proofs and refusals.
   */
  'slashedAmount'?: (string);
}

export interface AuditStatusReply__Output {
  'ticketsQueued': (number);
  'ticketsPassed': (number);
  'proofsConfirmed': (number);
  'proofsUnconfirmed': (number);
  'proofsRefuted': (number);
  /**
   * Audit requests whose ticket never came by the deadline.
   */
  'refusals': (number);
  /**
   * Audit requests still within their deadline.
   */
  'requestsPending': (number);
  'banned': (boolean);
  /**
   * Decimal, summed over confirmed proofs and refusals.
   */
  'slashedAmount': (string);
}
