// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/daemon.proto

import type { Long } from '@grpc/proto-loader';

export interface ExchangeBlocksRequest {
  'genesisHash'?: (Buffer | Uint8Array | string);
  /**
   * Hashes of the caller's canonical blocks from its head back to genesis, thinning out
   * exponentially (Bitcoin's block locator): the answer starts after the first one it shares.
   */
  'locator'?: (Buffer | Uint8Array | string)[];
  'headHeight'?: (number | string | Long);
  'headHash'?: (Buffer | Uint8Array | string);
  'maxBlocks'?: (number);
  /**
   * Where the caller serves, so a daemon whose chain is worse can fetch the caller's.
   */
  'fromEndpoint'?: (string);
}

export interface ExchangeBlocksRequest__Output {
  'genesisHash': (Buffer);
  /**
   * Hashes of the caller's canonical blocks from its head back to genesis, thinning out
   * exponentially (Bitcoin's block locator): the answer starts after the first one it shares.
   */
  'locator': (Buffer)[];
  'headHeight': (number);
  'headHash': (Buffer);
  'maxBlocks': (number);
  /**
   * Where the caller serves, so a daemon whose chain is worse can fetch the caller's.
   */
  'fromEndpoint': (string);
}
