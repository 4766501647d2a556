import type { GgmlType } from '../tensor/ggml-type.ts';
import type { Tokenizer } from './tokenizer/tokenizer.ts';

/** How query/key pairs are rotated: GGUF llama rotates adjacent pairs, HF layouts and qwen2 rotate halves. */
export type RopeStyle = 'interleaved' | 'neox';

/** Hyper-parameters of a decoder-only transformer; the architecture is data, not code. */
export interface ModelConfig {
  readonly architecture: string;
  /** Rows of the embedding table and of the logits. */
  readonly vocabSize: number;
  /** dim: the width of the residual stream x, [positions × hiddenSize]. */
  readonly hiddenSize: number;
  /** The FFN's hidden width: gate and up give [positions × ffnSize]. */
  readonly ffnSize: number;
  readonly layers: number;
  /** Query heads: q is [positions × heads × headDim]. */
  readonly heads: number;
  /** Key/value heads (fewer than heads under grouped-query attention): k, v are [positions × kvHeads × headDim]. */
  readonly kvHeads: number;
  readonly headDim: number;
  readonly ropeTheta: number;
  /** How many leading dimensions of each head RoPE rotates (≤ headDim). */
  readonly ropeDim: number;
  readonly ropeStyle: RopeStyle;
  readonly rmsEps: number;
  /** The most positions a session may hold. */
  readonly contextLength: number;
  /** Whether attn_q/k/v carry a bias (qwen2). */
  readonly qkvBias: boolean;
  /** Whether the LM head is the token embedding (no `output.weight`). */
  readonly tiedEmbeddings: boolean;
}

export interface TensorEntry {
  readonly type: GgmlType;
  /** GGML order: dims[0] is the row length. */
  readonly dims: readonly number[];
  readonly byteSize: number;
}

/**
 * Tensors by their GGUF names (`token_embd.weight`, `blk.3.attn_q.weight`, ...), read on demand so a
 * shard reads only its own layers.
 */
export interface WeightSource {
  readonly path: string;
  has(name: string): boolean;
  entry(name: string): TensorEntry;
  read(name: string, into: Uint8Array): void;
  close(): void;
}

/** An opened model: what the engine, the tokenizer and the chat front end need. */
export interface ModelFiles {
  readonly path: string;
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer;
  /** Jinja chat template from the model's metadata, when it has one. */
  readonly chatTemplate?: string;
  readonly weights: WeightSource;
}
