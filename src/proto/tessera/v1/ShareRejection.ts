// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/daemon.proto

export const ShareRejection = {
  SHARE_REJECTION_UNSPECIFIED: 'SHARE_REJECTION_UNSPECIFIED',
  /**
   * The payload is not a well-formed share in canonical JSON.
   */
  SHARE_MALFORMED: 'SHARE_MALFORMED',
  /**
   * The batch's statement signature does not recover any key (every share of the batch).
   */
  SHARE_BAD_SIGNATURE: 'SHARE_BAD_SIGNATURE',
  /**
   * The batch's statement is signed by a key other than the share key the node registered (every
   * share of the batch), or the share is of another node than the statement.
   */
  SHARE_WRONG_KEY: 'SHARE_WRONG_KEY',
  /**
   * The registry does not know the node (or it registered as another role).
   */
  SHARE_UNKNOWN_NODE: 'SHARE_UNKNOWN_NODE',
  SHARE_EVICTED_NODE: 'SHARE_EVICTED_NODE',
  /**
   * The node is registered for another model than the share's receipt (the name predates spans,
   * when a node served one shard and a share named it; a position is checked by SHARE_NOT_ON_ROUTE).
   */
  SHARE_WRONG_SHARD: 'SHARE_WRONG_SHARD',
  /**
   * No receipt with the share's receipt hash was sent or is held.
   */
  SHARE_NO_RECEIPT: 'SHARE_NO_RECEIPT',
  /**
   * The receipt is malformed or its signature is not its client's.
   */
  SHARE_BAD_RECEIPT: 'SHARE_BAD_RECEIPT',
  /**
   * The receipt is for another session, or has no count for the share's shard.
   */
  SHARE_RECEIPT_MISMATCH: 'SHARE_RECEIPT_MISMATCH',
  /**
   * The session's shares for this shard would exceed the tokens the receipt allows.
   */
  SHARE_OVER_RECEIPT: 'SHARE_OVER_RECEIPT',
  /**
   * Already accepted (here or in a block), or sent twice in the request.
   */
  SHARE_DUPLICATE: 'SHARE_DUPLICATE',
  /**
   * The statement of the share's batch does not list the share's hash.
   */
  SHARE_NOT_LISTED: 'SHARE_NOT_LISTED',
  /**
   * The share's receipt pays another node for its shard: only the node the client routed through is paid.
   */
  SHARE_NOT_ON_ROUTE: 'SHARE_NOT_ON_ROUTE',
} as const;

export type ShareRejection =
  | 'SHARE_REJECTION_UNSPECIFIED'
  | 0
  /**
   * The payload is not a well-formed share in canonical JSON.
   */
  | 'SHARE_MALFORMED'
  | 1
  /**
   * The batch's statement signature does not recover any key (every share of the batch).
   */
  | 'SHARE_BAD_SIGNATURE'
  | 2
  /**
   * The batch's statement is signed by a key other than the share key the node registered (every
   * share of the batch), or the share is of another node than the statement.
   */
  | 'SHARE_WRONG_KEY'
  | 3
  /**
   * The registry does not know the node (or it registered as another role).
   */
  | 'SHARE_UNKNOWN_NODE'
  | 4
  | 'SHARE_EVICTED_NODE'
  | 5
  /**
   * The node is registered for another model than the share's receipt (the name predates spans,
   * when a node served one shard and a share named it; a position is checked by SHARE_NOT_ON_ROUTE).
   */
  | 'SHARE_WRONG_SHARD'
  | 6
  /**
   * No receipt with the share's receipt hash was sent or is held.
   */
  | 'SHARE_NO_RECEIPT'
  | 7
  /**
   * The receipt is malformed or its signature is not its client's.
   */
  | 'SHARE_BAD_RECEIPT'
  | 8
  /**
   * The receipt is for another session, or has no count for the share's shard.
   */
  | 'SHARE_RECEIPT_MISMATCH'
  | 9
  /**
   * The session's shares for this shard would exceed the tokens the receipt allows.
   */
  | 'SHARE_OVER_RECEIPT'
  | 10
  /**
   * Already accepted (here or in a block), or sent twice in the request.
   */
  | 'SHARE_DUPLICATE'
  | 11
  /**
   * The statement of the share's batch does not list the share's hash.
   */
  | 'SHARE_NOT_LISTED'
  | 12
  /**
   * The share's receipt pays another node for its shard: only the node the client routed through is paid.
   */
  | 'SHARE_NOT_ON_ROUTE'
  | 13

export type ShareRejection__Output = typeof ShareRejection[keyof typeof ShareRejection]
