// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/membership.proto

import type { Signed as _tessera_v1_Signed, Signed__Output as _tessera_v1_Signed__Output } from '../../tessera/v1/Signed.ts';

export interface GetRosterReply {
  /**
   * Payload: the roster's canonical JSON, signed under tessera/v1/roster.
   */
  'roster'?: (_tessera_v1_Signed | null);
  /**
   * The addresses whose roster signatures daemons accept: the cluster's registryKeys, or this
   * registry's own roster key when the cluster lists none.
   */
  'authorities'?: (string)[];
}

export interface GetRosterReply__Output {
  /**
   * Payload: the roster's canonical JSON, signed under tessera/v1/roster.
   */
  'roster': (_tessera_v1_Signed__Output | null);
  /**
   * The addresses whose roster signatures daemons accept: the cluster's registryKeys, or this
   * registry's own roster key when the cluster lists none.
   */
  'authorities': (string)[];
}
