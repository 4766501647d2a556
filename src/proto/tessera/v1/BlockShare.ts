// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/daemon.proto


export interface BlockShare {
  /**
   * A compute share (src/chain/share.ts).
   */
  'payload'?: (Buffer | Uint8Array | string);
  /**
   * The index, in the block's statements, of a statement of the share's node that lists it.
   */
  'statement'?: (number);
}

export interface BlockShare__Output {
  /**
   * A compute share (src/chain/share.ts).
   */
  'payload': (Buffer);
  /**
   * The index, in the block's statements, of a statement of the share's node that lists it.
   */
  'statement': (number);
}
