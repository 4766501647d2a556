// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: /work/main/proto/tessera/v1/registry.proto


export interface ManifestReply {
  /**
   * manifest.json (version 2) as written by `tessera shard`.
   */
  'manifestJson'?: (string);
}

export interface ManifestReply__Output {
  /**
   * manifest.json (version 2) as written by `tessera shard`.
   */
  'manifestJson': (string);
}
