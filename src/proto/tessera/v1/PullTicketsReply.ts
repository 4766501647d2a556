// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/verifier.proto

import type { LeasedTicket as _tessera_v1_LeasedTicket, LeasedTicket__Output as _tessera_v1_LeasedTicket__Output } from '../../tessera/v1/LeasedTicket.ts';

export interface PullTicketsReply {
  'tickets'?: (_tessera_v1_LeasedTicket)[];
}

export interface PullTicketsReply__Output {
  'tickets': (_tessera_v1_LeasedTicket__Output)[];
}
