// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/verifier.proto

import type { TicketInput as _tessera_v1_TicketInput, TicketInput__Output as _tessera_v1_TicketInput__Output } from '../../tessera/v1/TicketInput.ts';
import type { Commitment as _tessera_v1_Commitment, Commitment__Output as _tessera_v1_Commitment__Output } from '../../tessera/v1/Commitment.ts';

export interface Ticket {
  'modelId'?: (string);
  'shardIndex'?: (number);
  /**
   * Hex SHA-256 of the shard file, as in the manifest.
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
}

export interface Ticket__Output {
  'modelId': (string);
  'shardIndex': (number);
  /**
   * Hex SHA-256 of the shard file, as in the manifest.
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
}
