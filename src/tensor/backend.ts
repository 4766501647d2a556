import type { GgmlType } from './ggml-type.ts';

/** A weight matrix resident in the backend: `rows` rows of `cols` elements in GGUF block layout. */
export interface Matrix {
  readonly type: GgmlType;
  readonly rows: number;
  readonly cols: number;
  /** The raw row-major block bytes; the loader fills them in place (no second copy). */
  readonly bytes: Uint8Array;
}

/** The head layout attention needs; kvHeads divides heads (grouped-query attention). */
export interface AttentionShape {
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
}

/**
 * Where matrix products and attention run. Every implementation computes each output element with one fixed
 * reduction order that depends only on the operands, never on the thread count, so results are
 * bit-for-bit reproducible.
 */
export interface Backend {
  readonly threads: number;
  /** Room for a rows×cols matrix of `type`; fill `bytes` before the first product. */
  allocMatrix(type: GgmlType, rows: number, cols: number): Matrix;
  /**
   * out[t*rows + r] = Σ_c W[r][c] · x[t*cols + c] for t < nTokens. Rows of one token's product are
   * computed exactly as a single-token product would compute them.
   */
  matmul(w: Matrix, x: Float32Array, nTokens: number, out?: Float32Array): Float32Array;
  /**
   * Causal attention of the query positions [startPos, startPos + n) over the cached positions
   * [0, startPos + n), with the bytes of attention-reference.ts whatever the thread count.
   * out, q: [n × heads × headDim]; keys: ≥ startPos + n positions in quads (key-quads.ts); values:
   * [≥ startPos + n positions × kvHeads × headDim]. Keys and values from allocFloats are read
   * where they lie; others are copied in first.
   */
  attention(
    out: Float32Array,
    q: Float32Array,
    keys: Float32Array,
    values: Float32Array,
    shape: AttentionShape,
    startPos: number,
    n: number,
  ): void;
  /**
   * gate[i] = silu(gate[i]) · up[i] for i < length (SwiGLU), with the bytes of
   * swiglu-reference.ts.
   */
  swiglu(gate: Float32Array, up: Float32Array, length: number): void;
  /**
   * Room for `length` f32 values (zeroed or not) that attention reads in place: a KV cache's.
   * Where the backend has no room left, a plain array, which attention copies in.
   */
  allocFloats(length: number): Float32Array;
  /** Gives back an array of allocFloats (ignored for others, and after close); it must not be used again. */
  freeFloats(array: Float32Array): void;
  /** Row r of W dequantized to f32 (embedding lookup). */
  row(w: Matrix, r: number, out: Float32Array): Float32Array;
  /** Frees workers and memory. */
  close(): Promise<void>;
}
