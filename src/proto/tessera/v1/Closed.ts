// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/node.proto


/**
 * Every step answered is signed: nothing more follows on the stream.
 */
export interface Closed {
}

/**
 * Every step answered is signed: nothing more follows on the stream.
 */
export interface Closed__Output {
}
