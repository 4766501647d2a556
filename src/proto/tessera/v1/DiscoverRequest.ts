// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto


export interface DiscoverRequest {
  'modelId'?: (string);
  /**
   * Also list live nodes that get no new work (unstaking, or below the stake minimum), with
   * eligible false: for `tessera status`, never for routing.
   */
  'includeIneligible'?: (boolean);
}

export interface DiscoverRequest__Output {
  'modelId': (string);
  /**
   * Also list live nodes that get no new work (unstaking, or below the stake minimum), with
   * eligible false: for `tessera status`, never for routing.
   */
  'includeIneligible': (boolean);
}
