// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/node.proto

import type { Open as _tessera_v1_Open, Open__Output as _tessera_v1_Open__Output } from '../../tessera/v1/Open.ts';
import type { Step as _tessera_v1_Step, Step__Output as _tessera_v1_Step__Output } from '../../tessera/v1/Step.ts';
import type { Close as _tessera_v1_Close, Close__Output as _tessera_v1_Close__Output } from '../../tessera/v1/Close.ts';
import type { AuditReveal as _tessera_v1_AuditReveal, AuditReveal__Output as _tessera_v1_AuditReveal__Output } from '../../tessera/v1/AuditReveal.ts';
import type { UsageAttestation as _tessera_v1_UsageAttestation, UsageAttestation__Output as _tessera_v1_UsageAttestation__Output } from '../../tessera/v1/UsageAttestation.ts';

export interface ForwardRequest {
  'open'?: (_tessera_v1_Open | null);
  'step'?: (_tessera_v1_Step | null);
  'close'?: (_tessera_v1_Close | null);
  'reveal'?: (_tessera_v1_AuditReveal | null);
  'usage'?: (_tessera_v1_UsageAttestation | null);
  'kind'?: "open"|"step"|"close"|"reveal"|"usage";
}

export interface ForwardRequest__Output {
  'open'?: (_tessera_v1_Open__Output | null);
  'step'?: (_tessera_v1_Step__Output | null);
  'close'?: (_tessera_v1_Close__Output | null);
  'reveal'?: (_tessera_v1_AuditReveal__Output | null);
  'usage'?: (_tessera_v1_UsageAttestation__Output | null);
  'kind'?: "open"|"step"|"close"|"reveal"|"usage";
}
