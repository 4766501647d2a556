// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type {
  Signed as _tessera_v1_Signed,
  Signed__Output as _tessera_v1_Signed__Output,
} from './tessera/v1/Signed.ts';
import type {
  Tensor as _tessera_v1_Tensor,
  Tensor__Output as _tessera_v1_Tensor__Output,
} from './tessera/v1/Tensor.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new (...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tessera: {
    v1: {
      DType: EnumTypeDefinition;
      Signed: MessageTypeDefinition<_tessera_v1_Signed, _tessera_v1_Signed__Output>;
      Tensor: MessageTypeDefinition<_tessera_v1_Tensor, _tessera_v1_Tensor__Output>;
    };
  };
}
