// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/membership.proto

export const MemberStatus = {
  MEMBER_STATUS_UNSPECIFIED: 'MEMBER_STATUS_UNSPECIFIED',
  MEMBER_LIVE: 'MEMBER_LIVE',
  /**
   * Missed its heartbeats (or was slashed): not eligible until it registers again.
   */
  MEMBER_EVICTED: 'MEMBER_EVICTED',
} as const;

export type MemberStatus =
  | 'MEMBER_STATUS_UNSPECIFIED'
  | 0
  | 'MEMBER_LIVE'
  | 1
  /**
   * Missed its heartbeats (or was slashed): not eligible until it registers again.
   */
  | 'MEMBER_EVICTED'
  | 2

export type MemberStatus__Output = typeof MemberStatus[keyof typeof MemberStatus]
