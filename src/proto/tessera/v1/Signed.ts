// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/common.proto


/**
 * A payload signed by a secp256k1 key: `payload` is the canonical JSON of the signed object, and
 * `signature` the 65-byte recoverable signature (r, s, v) over keccak256(domain || payload).
 */
export interface Signed {
  'payload'?: (Buffer | Uint8Array | string);
  'signature'?: (Buffer | Uint8Array | string);
}

/**
 * A payload signed by a secp256k1 key: `payload` is the canonical JSON of the signed object, and
 * `signature` the 65-byte recoverable signature (r, s, v) over keccak256(domain || payload).
 */
export interface Signed__Output {
  'payload': (Buffer);
  'signature': (Buffer);
}
