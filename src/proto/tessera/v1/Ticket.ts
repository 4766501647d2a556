// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/verifier.proto

import type { TicketInput as _tessera_v1_TicketInput, TicketInput__Output as _tessera_v1_TicketInput__Output } from '../../tessera/v1/TicketInput.ts';
import type { Commitment as _tessera_v1_Commitment, Commitment__Output as _tessera_v1_Commitment__Output } from '../../tessera/v1/Commitment.ts';

export interface Ticket {
  'modelId'?: (string);
  /**
   * The commitment's span of shards [shard_index, shard_end): the layers to recompute.
   */
  'shardIndex'?: (number);
  /**
   * Hex SHA-256 of the span's weights (spanSha256, src/model/shards/span.ts): a one-shard span's is
   * its file's, as in the manifest.
   */
  'shardSha256'?: (string);
  'engineVersion'?: (string);
  'input'?: (_tessera_v1_TicketInput | null);
  /**
   * The step covers positions [start_position, start_position + positions); only steps that start
   * at 0 are audited, since a later one would need every earlier position's input too.
   */
  'startPosition'?: (number);
  'positions'?: (number);
  /**
   * The node's signed commitment: its input hash binds `input`, its output hash is what the
   * recomputation must give.
   */
  'commitment'?: (_tessera_v1_Commitment | null);
  /**
   * The session's revealed audit secret that selects this step (SubmitTicket refuses a ticket it
   * does not select: TICKET_NOT_SELECTED). Empty in leased tickets.
   */
  'auditSecret'?: (Buffer | Uint8Array | string);
  /**
   * The committing node's signature over the ticket's statement (src/protocol/ticket-signature.ts),
   * so that only that node queues tickets of its steps (TICKET_UNSIGNED, TICKET_WRONG_SIGNER).
   * Empty in leased tickets, whose commitment signature is blanked as well (canaries look the same).
   */
  'signature'?: (Buffer | Uint8Array | string);
  'shardEnd'?: (number);
}

export interface Ticket__Output {
  'modelId': (string);
  /**
   * The commitment's span of shards [shard_index, shard_end): the layers to recompute.
   */
  'shardIndex': (number);
  /**
   * Hex SHA-256 of the span's weights (spanSha256, src/model/shards/span.ts): a one-shard span's is
   * its file's, as in the manifest.
   */
  'shardSha256': (string);
  'engineVersion': (string);
  'input': (_tessera_v1_TicketInput__Output | null);
  /**
   * The step covers positions [start_position, start_position + positions); only steps that start
   * at 0 are audited, since a later one would need every earlier position's input too.
   */
  'startPosition': (number);
  'positions': (number);
  /**
   * The node's signed commitment: its input hash binds `input`, its output hash is what the
   * recomputation must give.
   */
  'commitment': (_tessera_v1_Commitment__Output | null);
  /**
   * The session's revealed audit secret that selects this step (SubmitTicket refuses a ticket it
   * does not select: TICKET_NOT_SELECTED). Empty in leased tickets.
   */
  'auditSecret': (Buffer);
  /**
   * The committing node's signature over the ticket's statement (src/protocol/ticket-signature.ts),
   * so that only that node queues tickets of its steps (TICKET_UNSIGNED, TICKET_WRONG_SIGNER).
   * Empty in leased tickets, whose commitment signature is blanked as well (canaries look the same).
   */
  'signature': (Buffer);
  'shardEnd': (number);
}
