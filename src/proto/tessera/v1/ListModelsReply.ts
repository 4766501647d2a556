// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto

import type { ModelSummary as _tessera_v1_ModelSummary, ModelSummary__Output as _tessera_v1_ModelSummary__Output } from '../../tessera/v1/ModelSummary.ts';

export interface ListModelsReply {
  'models'?: (_tessera_v1_ModelSummary)[];
}

export interface ListModelsReply__Output {
  'models': (_tessera_v1_ModelSummary__Output)[];
}
