// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/node.proto

import type { Opened as _tessera_v1_Opened, Opened__Output as _tessera_v1_Opened__Output } from '../../tessera/v1/Opened.ts';
import type { StepResult as _tessera_v1_StepResult, StepResult__Output as _tessera_v1_StepResult__Output } from '../../tessera/v1/StepResult.ts';
import type { StepSignatures as _tessera_v1_StepSignatures, StepSignatures__Output as _tessera_v1_StepSignatures__Output } from '../../tessera/v1/StepSignatures.ts';
import type { Closed as _tessera_v1_Closed, Closed__Output as _tessera_v1_Closed__Output } from '../../tessera/v1/Closed.ts';

export interface ForwardReply {
  'opened'?: (_tessera_v1_Opened | null);
  'result'?: (_tessera_v1_StepResult | null);
  'signatures'?: (_tessera_v1_StepSignatures | null);
  'closed'?: (_tessera_v1_Closed | null);
  'kind'?: "opened"|"result"|"signatures"|"closed";
}

export interface ForwardReply__Output {
  'opened'?: (_tessera_v1_Opened__Output | null);
  'result'?: (_tessera_v1_StepResult__Output | null);
  'signatures'?: (_tessera_v1_StepSignatures__Output | null);
  'closed'?: (_tessera_v1_Closed__Output | null);
  'kind'?: "opened"|"result"|"signatures"|"closed";
}
