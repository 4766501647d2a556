// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/registry.proto


export interface ManifestReply {
  /**
   * manifest.json (version 2) as written by `tessera shard`.
   */
  'manifestJson'?: (string);
  /**
   * The model's tokenizer and chat template: a GGUF file with metadata and no tensors.
   */
  'tokenizerGguf'?: (Buffer | Uint8Array | string);
}

export interface ManifestReply__Output {
  /**
   * manifest.json (version 2) as written by `tessera shard`.
   */
  'manifestJson': (string);
  /**
   * The model's tokenizer and chat template: a GGUF file with metadata and no tensors.
   */
  'tokenizerGguf': (Buffer);
}
