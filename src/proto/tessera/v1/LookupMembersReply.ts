// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/membership.proto

import type { Member as _tessera_v1_Member, Member__Output as _tessera_v1_Member__Output } from '../../tessera/v1/Member.ts';

export interface LookupMembersReply {
  'members'?: (_tessera_v1_Member)[];
}

export interface LookupMembersReply__Output {
  'members': (_tessera_v1_Member__Output)[];
}
