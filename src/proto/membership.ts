// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type {
  GetRosterReply as _tessera_v1_GetRosterReply,
  GetRosterReply__Output as _tessera_v1_GetRosterReply__Output,
} from './tessera/v1/GetRosterReply.ts';
import type {
  GetRosterRequest as _tessera_v1_GetRosterRequest,
  GetRosterRequest__Output as _tessera_v1_GetRosterRequest__Output,
} from './tessera/v1/GetRosterRequest.ts';
import type {
  LookupMembersReply as _tessera_v1_LookupMembersReply,
  LookupMembersReply__Output as _tessera_v1_LookupMembersReply__Output,
} from './tessera/v1/LookupMembersReply.ts';
import type {
  LookupMembersRequest as _tessera_v1_LookupMembersRequest,
  LookupMembersRequest__Output as _tessera_v1_LookupMembersRequest__Output,
} from './tessera/v1/LookupMembersRequest.ts';
import type {
  Member as _tessera_v1_Member,
  Member__Output as _tessera_v1_Member__Output,
} from './tessera/v1/Member.ts';
import type {
  MembershipClient as _tessera_v1_MembershipClient,
  MembershipDefinition as _tessera_v1_MembershipDefinition,
} from './tessera/v1/Membership.ts';
import type {
  ReportEquivocationReply as _tessera_v1_ReportEquivocationReply,
  ReportEquivocationReply__Output as _tessera_v1_ReportEquivocationReply__Output,
} from './tessera/v1/ReportEquivocationReply.ts';
import type {
  ReportEquivocationRequest as _tessera_v1_ReportEquivocationRequest,
  ReportEquivocationRequest__Output as _tessera_v1_ReportEquivocationRequest__Output,
} from './tessera/v1/ReportEquivocationRequest.ts';
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
      GetRosterReply: MessageTypeDefinition<_tessera_v1_GetRosterReply, _tessera_v1_GetRosterReply__Output>;
      GetRosterRequest: MessageTypeDefinition<_tessera_v1_GetRosterRequest, _tessera_v1_GetRosterRequest__Output>;
      LookupMembersReply: MessageTypeDefinition<_tessera_v1_LookupMembersReply, _tessera_v1_LookupMembersReply__Output>;
      LookupMembersRequest: MessageTypeDefinition<
        _tessera_v1_LookupMembersRequest,
        _tessera_v1_LookupMembersRequest__Output
      >;
      Member: MessageTypeDefinition<_tessera_v1_Member, _tessera_v1_Member__Output>;
      MemberStatus: EnumTypeDefinition;
      /**
       * Who a registered member is, for the daemons that check compute shares and elect block producers.
       * Served by the registry beside the Registry service; answers come from its admission records.
       */
      Membership: SubtypeConstructor<typeof grpc.Client, _tessera_v1_MembershipClient> & {
        service: _tessera_v1_MembershipDefinition;
      };
      ReportEquivocationReply: MessageTypeDefinition<
        _tessera_v1_ReportEquivocationReply,
        _tessera_v1_ReportEquivocationReply__Output
      >;
      ReportEquivocationRequest: MessageTypeDefinition<
        _tessera_v1_ReportEquivocationRequest,
        _tessera_v1_ReportEquivocationRequest__Output
      >;
      Signed: MessageTypeDefinition<_tessera_v1_Signed, _tessera_v1_Signed__Output>;
      Tensor: MessageTypeDefinition<_tessera_v1_Tensor, _tessera_v1_Tensor__Output>;
    };
  };
}
