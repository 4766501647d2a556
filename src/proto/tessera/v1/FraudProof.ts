// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/verifier.proto

import type { Ticket as _tessera_v1_Ticket, Ticket__Output as _tessera_v1_Ticket__Output } from '../../tessera/v1/Ticket.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * A verifier's signed claim that recomputing `ticket` gives another output than the one its node
 * committed to. `signature` covers the canonical JSON of src/audit/fraud-proof.ts's statement.
 */
export interface FraudProof {
  'ticket'?: (_tessera_v1_Ticket | null);
  'recomputedOutputHash'?: (Buffer | Uint8Array | string);
  'verifierId'?: (string);
  'timestampMs'?: (number | string | Long);
  'signature'?: (Buffer | Uint8Array | string);
}

/**
 * A verifier's signed claim that recomputing `ticket` gives another output than the one its node
 * committed to. `signature` covers the canonical JSON of src/audit/fraud-proof.ts's statement.
 */
export interface FraudProof__Output {
  'ticket': (_tessera_v1_Ticket__Output | null);
  'recomputedOutputHash': (Buffer);
  'verifierId': (string);
  'timestampMs': (number);
  'signature': (Buffer);
}
