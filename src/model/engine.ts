import type { Backend, Matrix } from '../tensor/backend.ts';
import { dequantize } from '../tensor/dequantize.ts';
import { KvCache } from './kv-cache.ts';
import { rmsNorm, silu, softmax } from './math.ts';
import type { ModelConfig, WeightSource } from './model-files.ts';
import { Rope } from './rope.ts';

/** Which part of the model one engine runs: layers [start, end), plus the embedding and/or the head. */
export interface LayerRange {
  readonly start: number;
  readonly end: number;
  readonly embedding: boolean;
  readonly head: boolean;
}

export type ForwardInput = { readonly tokens: Int32Array | readonly number[] } | { readonly hidden: Float32Array };

export interface ForwardResult {
  /** The hidden states after the last layer, [positions × hiddenSize] (when the range has no head). */
  readonly hidden?: Float32Array;
  /** Logits of the last position (or of every position with `allLogits`), [n × vocab]. */
  readonly logits?: Float32Array;
}

interface LayerWeights {
  readonly attnNorm: Float32Array;
  readonly q: Matrix;
  readonly k: Matrix;
  readonly v: Matrix;
  readonly qBias?: Float32Array;
  readonly kBias?: Float32Array;
  readonly vBias?: Float32Array;
  readonly output: Matrix;
  readonly ffnNorm: Float32Array;
  readonly gate: Matrix;
  readonly up: Matrix;
  readonly down: Matrix;
}

export class EngineInputError extends Error {
  readonly code = 'INVALID_INPUT';
}

function loadMatrix(weights: WeightSource, backend: Backend, name: string, rows: number, cols: number): Matrix {
  const entry = weights.entry(name);
  if (entry.dims[0] !== cols || (entry.dims[1] ?? 1) !== rows) {
    throw new Error(
      `${weights.path}: tensor ${name} has shape [${entry.dims.join(', ')}], expected [${cols}, ${rows}]`,
    );
  }
  const matrix = backend.allocMatrix(entry.type, rows, cols);
  weights.read(name, matrix.bytes);
  return matrix;
}

function loadVector(weights: WeightSource, name: string, size: number): Float32Array {
  const entry = weights.entry(name);
  const count = entry.dims.reduce((a, b) => a * b, 1);
  if (count !== size) throw new Error(`${weights.path}: tensor ${name} has ${count} values, expected ${size}`);
  const bytes = new Uint8Array(entry.byteSize);
  weights.read(name, bytes);
  return dequantize(entry.type, bytes, size);
}

/**
 * Runs a contiguous range of transformer layers over a per-session KV cache. Reads only the tensors
 * of its range, so a process holding k of n layers holds about k/n of the weights.
 */
export class Engine {
  private readonly layers: LayerWeights[] = [];
  private readonly embedding?: Matrix;
  private readonly outputNorm?: Float32Array;
  private readonly lmHead?: Matrix;
  private readonly rope: Rope;

  constructor(
    readonly config: ModelConfig,
    readonly range: LayerRange,
    private readonly backend: Backend,
    weights: WeightSource,
  ) {
    const { hiddenSize: H, heads, kvHeads, headDim, ffnSize, vocabSize, layers } = config;
    if (!(range.start >= 0 && range.start <= range.end && range.end <= layers)) {
      throw new Error(`layer range [${range.start}, ${range.end}) is outside the model's ${layers} layers`);
    }
    const qSize = heads * headDim;
    const kvSize = kvHeads * headDim;
    if (range.embedding) this.embedding = loadMatrix(weights, backend, 'token_embd.weight', vocabSize, H);
    for (let l = range.start; l < range.end; l++) {
      const p = `blk.${l}.`;
      this.layers.push({
        attnNorm: loadVector(weights, `${p}attn_norm.weight`, H),
        q: loadMatrix(weights, backend, `${p}attn_q.weight`, qSize, H),
        k: loadMatrix(weights, backend, `${p}attn_k.weight`, kvSize, H),
        v: loadMatrix(weights, backend, `${p}attn_v.weight`, kvSize, H),
        qBias: config.qkvBias ? loadVector(weights, `${p}attn_q.bias`, qSize) : undefined,
        kBias: config.qkvBias ? loadVector(weights, `${p}attn_k.bias`, kvSize) : undefined,
        vBias: config.qkvBias ? loadVector(weights, `${p}attn_v.bias`, kvSize) : undefined,
        output: loadMatrix(weights, backend, `${p}attn_output.weight`, H, qSize),
        ffnNorm: loadVector(weights, `${p}ffn_norm.weight`, H),
        gate: loadMatrix(weights, backend, `${p}ffn_gate.weight`, ffnSize, H),
        up: loadMatrix(weights, backend, `${p}ffn_up.weight`, ffnSize, H),
        down: loadMatrix(weights, backend, `${p}ffn_down.weight`, H, ffnSize),
      });
    }
    if (range.head) {
      this.outputNorm = loadVector(weights, 'output_norm.weight', H);
      this.lmHead = config.tiedEmbeddings
        ? (this.embedding ?? loadMatrix(weights, backend, 'token_embd.weight', vocabSize, H))
        : loadMatrix(weights, backend, 'output.weight', vocabSize, H);
    }
    const factors = weights.has('rope_freqs.weight')
      ? loadVector(weights, 'rope_freqs.weight', config.ropeDim / 2)
      : undefined;
    this.rope = new Rope(config, factors);
  }

  createCache(budgetBytes: number): KvCache {
    return new KvCache(this.config, this.layers.length, budgetBytes);
  }

  /**
   * Runs positions [startPos, startPos + n) through the range. The cache must hold exactly the
   * positions before startPos (or more, which are then discarded: a replay).
   */
  forward(cache: KvCache, input: ForwardInput, startPos: number, options: { allLogits?: boolean } = {}): ForwardResult {
    const { hiddenSize: H, heads, kvHeads, headDim, ffnSize } = this.config;
    if (startPos > cache.length)
      throw new EngineInputError(
        `position ${startPos} skips ahead of the cache, which holds ${cache.length} positions`,
      );
    const x = this.embed(input);
    const n = x.length / H;
    cache.reserve(startPos + n);
    cache.length = startPos;

    const qSize = heads * headDim;
    const kvSize = kvHeads * headDim;
    const normed = new Float32Array(n * H);
    const attention = new Float32Array(n * qSize);
    const ffnHidden = new Float32Array(n * ffnSize);
    const scores = new Float32Array(startPos + n);
    const scale = 1 / Math.sqrt(headDim);
    const group = heads / kvHeads;

    for (let li = 0; li < this.layers.length; li++) {
      const layer = this.layers[li]!;
      rmsNorm(normed, x, layer.attnNorm, H, n, this.config.rmsEps);
      const q = this.backend.matmul(layer.q, normed, n);
      const k = this.backend.matmul(layer.k, normed, n);
      const v = this.backend.matmul(layer.v, normed, n);
      if (layer.qBias) addBias(q, layer.qBias, n);
      if (layer.kBias) addBias(k, layer.kBias, n);
      if (layer.vBias) addBias(v, layer.vBias, n);
      const keys = cache.keysOf(li);
      const values = cache.valuesOf(li);
      for (let t = 0; t < n; t++) {
        const pos = startPos + t;
        this.rope.apply(q, t * qSize, heads, pos);
        this.rope.apply(k, t * kvSize, kvHeads, pos);
        keys.set(k.subarray(t * kvSize, (t + 1) * kvSize), pos * kvSize);
        values.set(v.subarray(t * kvSize, (t + 1) * kvSize), pos * kvSize);
      }
      for (let t = 0; t < n; t++) {
        const visible = startPos + t + 1;
        for (let h = 0; h < heads; h++) {
          const qBase = t * qSize + h * headDim;
          const kvOffset = Math.floor(h / group) * headDim;
          for (let p = 0; p < visible; p++) {
            const kBase = p * kvSize + kvOffset;
            let dot = 0;
            for (let d = 0; d < headDim; d++) dot += q[qBase + d]! * keys[kBase + d]!;
            scores[p] = dot * scale;
          }
          softmax(scores, visible);
          const outBase = t * qSize + h * headDim;
          for (let d = 0; d < headDim; d++) {
            let sum = 0;
            for (let p = 0; p < visible; p++) sum += scores[p]! * values[p * kvSize + kvOffset + d]!;
            attention[outBase + d] = sum;
          }
        }
      }
      addInPlace(x, this.backend.matmul(layer.output, attention, n));

      rmsNorm(normed, x, layer.ffnNorm, H, n, this.config.rmsEps);
      const gate = this.backend.matmul(layer.gate, normed, n);
      const up = this.backend.matmul(layer.up, normed, n);
      for (let i = 0; i < ffnHidden.length; i++) ffnHidden[i] = Math.fround(silu(gate[i]!)) * up[i]!;
      addInPlace(x, this.backend.matmul(layer.down, ffnHidden, n));
    }
    cache.length = startPos + n;

    if (!this.lmHead || !this.outputNorm) return { hidden: x };
    const rows = options.allLogits ? n : 1;
    const last = x.subarray((n - rows) * H);
    const finalNormed = new Float32Array(rows * H);
    rmsNorm(finalNormed, last, this.outputNorm, H, rows, this.config.rmsEps);
    return { logits: this.backend.matmul(this.lmHead, finalNormed, rows) };
  }

  private embed(input: ForwardInput): Float32Array {
    const { hiddenSize: H, vocabSize } = this.config;
    if ('tokens' in input) {
      if (!this.embedding)
        throw new EngineInputError('this layer range has no embedding: send hidden states, not token ids');
      const n = input.tokens.length;
      if (n === 0) throw new EngineInputError('no tokens to run');
      const x = new Float32Array(n * H);
      for (let t = 0; t < n; t++) {
        const id = input.tokens[t]!;
        if (!Number.isInteger(id) || id < 0 || id >= vocabSize)
          throw new EngineInputError(`token id ${id} is outside the vocabulary of ${vocabSize}`);
        this.backend.row(this.embedding, id, x.subarray(t * H, (t + 1) * H));
      }
      return x;
    }
    if (this.embedding)
      throw new EngineInputError('this layer range starts with the embedding: send token ids, not hidden states');
    const { hidden } = input;
    if (hidden.length === 0 || hidden.length % H !== 0) {
      throw new EngineInputError(
        `hidden states of ${hidden.length} values are not a whole number of positions of hidden size ${H}`,
      );
    }
    return Float32Array.from(hidden);
  }
}

function addBias(data: Float32Array, bias: Float32Array, rows: number): void {
  const size = bias.length;
  for (let r = 0; r < rows; r++) for (let i = 0; i < size; i++) data[r * size + i] = data[r * size + i]! + bias[i]!;
}

function addInPlace(target: Float32Array, delta: Float32Array): void {
  for (let i = 0; i < target.length; i++) target[i] = target[i]! + delta[i]!;
}
