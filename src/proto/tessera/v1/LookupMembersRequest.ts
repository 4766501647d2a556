// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/membership.proto


export interface LookupMembersRequest {
  /**
   * Members to look up; ids the registry does not know are left out of the answer.
   */
  'nodeIds'?: (string)[];
  /**
   * When set (e.g. "daemon"), the answer also holds every live member of this role.
   */
  'liveRole'?: (string);
}

export interface LookupMembersRequest__Output {
  /**
   * Members to look up; ids the registry does not know are left out of the answer.
   */
  'nodeIds': (string)[];
  /**
   * When set (e.g. "daemon"), the answer also holds every live member of this role.
   */
  'liveRole': (string);
}
