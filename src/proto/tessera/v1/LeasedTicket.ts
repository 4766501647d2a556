// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/verifier.proto

import type { Ticket as _tessera_v1_Ticket, Ticket__Output as _tessera_v1_Ticket__Output } from '../../tessera/v1/Ticket.ts';
import type { Long } from '@grpc/proto-loader';

export interface LeasedTicket {
  'ticketId'?: (string);
  'ticket'?: (_tessera_v1_Ticket | null);
  'leaseUntilMs'?: (number | string | Long);
}

export interface LeasedTicket__Output {
  'ticketId': (string);
  'ticket': (_tessera_v1_Ticket__Output | null);
  'leaseUntilMs': (number);
}
