// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto


/**
 * Where the cluster keeps stakes and pays out.
 */
export interface Escrow {
  /**
   * "ledger": the registry's own SQLite ledger; "evm": the TesseraEscrow contract below.
   */
  'backend'?: (string);
  'rpcUrl'?: (string);
  'contract'?: (string);
}

/**
 * Where the cluster keeps stakes and pays out.
 */
export interface Escrow__Output {
  /**
   * "ledger": the registry's own SQLite ledger; "evm": the TesseraEscrow contract below.
   */
  'backend': (string);
  'rpcUrl': (string);
  'contract': (string);
}
