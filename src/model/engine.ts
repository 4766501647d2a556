import { TesseraError } from '../core/errors.ts';
import type { Backend, Matrix } from '../tensor/backend.ts';
import { dequantize } from '../tensor/dequantize.ts';
import { KvCache } from './kv-cache.ts';
import { rmsNorm } from './math.ts';
import type { ModelConfig, WeightSource } from './model-files.ts';
import { Rope } from './rope.ts';
import { RunState } from './run-state.ts';

/** Which part of the model one engine runs: layers [start, end), plus the embedding and/or the head. */
export interface LayerRange {
  readonly start: number;
  readonly end: number;
  readonly embedding: boolean;
  readonly head: boolean;
}

export type ForwardInput = { readonly tokens: Int32Array | readonly number[] } | { readonly hidden: Float32Array };

/** One session's part of a batch: its cache, its new positions and where they start. */
export interface BatchItem {
  readonly cache: KvCache;
  readonly input: ForwardInput;
  readonly startPos: number;
  /** Logits of every position rather than of the last (ranges with the head). */
  readonly allLogits?: boolean;
  /** A chunk of a longer input whose last position comes in a later call: a head range computes no logits for it. */
  readonly partial?: boolean;
}

/** What forward returns belongs to the caller: later calls never write into it. */
export interface ForwardResult {
  /** The hidden states after the last layer, [positions × hiddenSize] (when the range has no head). */
  readonly hidden?: Float32Array;
  /** Logits of the last position (or of every position with `allLogits`; none for a partial item), [n × vocab]. */
  readonly logits?: Float32Array;
}

/**
 * One transformer block's weights. A matrix [rows × cols] maps a vector of cols values to one of
 * rows (GGUF stores it as dims [cols, rows]); dim = hiddenSize, qDim = heads × headDim,
 * kvDim = kvHeads × headDim.
 */
interface LayerWeights {
  /** [dim] RMSNorm weight before attention. */
  readonly attnNorm: Float32Array;
  /** [qDim × dim] query projection. */
  readonly q: Matrix;
  /** [kvDim × dim] key projection. */
  readonly k: Matrix;
  /** [kvDim × dim] value projection. */
  readonly v: Matrix;
  /** [qDim], [kvDim], [kvDim]: projection biases (qwen2 only). */
  readonly qBias?: Float32Array;
  readonly kBias?: Float32Array;
  readonly vBias?: Float32Array;
  /** [dim × qDim] attention output projection. */
  readonly output: Matrix;
  /** [dim] RMSNorm weight before the FFN. */
  readonly ffnNorm: Float32Array;
  /** [ffnSize × dim] SwiGLU gate projection (w1 in llama2.c). */
  readonly gate: Matrix;
  /** [ffnSize × dim] SwiGLU up projection (w3). */
  readonly up: Matrix;
  /** [dim × ffnSize] SwiGLU down projection (w2). */
  readonly down: Matrix;
}

/** A forward call's input does not fit this engine (wrong kind, out of range, misshapen). */
export class EngineInputError extends TesseraError {
  constructor(message: string) {
    super('ENGINE_INPUT_INVALID', 'invalid', message);
  }
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
 * The weights an engine has loaded, handed to a slice of it in place of a weight source: the slice
 * runs on the same arrays, loading nothing.
 */
class SharedWeights {
  constructor(
    readonly layers: readonly LayerWeights[],
    readonly embedding: Matrix | undefined,
    readonly outputNorm: Float32Array | undefined,
    readonly lmHead: Matrix | undefined,
    readonly rope: Rope,
    readonly state: RunState,
  ) {}
}

/**
 * Runs a contiguous range of transformer layers over a per-session KV cache. Reads only the tensors
 * of its range, so a process holding k of n layers holds about k/n of the weights.
 */
export class Engine {
  private readonly layers: readonly LayerWeights[];
  /** [vocabSize × dim] token embedding table (when the range has the embedding). */
  private readonly embedding?: Matrix;
  /** [dim] RMSNorm weight before the classifier (when the range has the head). */
  private readonly outputNorm?: Float32Array;
  /** [vocabSize × dim] classifier; the embedding table itself when the model ties them. */
  private readonly lmHead?: Matrix;
  private readonly rope: Rope;
  private readonly state: RunState;

  constructor(
    readonly config: ModelConfig,
    readonly range: LayerRange,
    private readonly backend: Backend,
    weights: WeightSource | SharedWeights,
  ) {
    if (!(range.start >= 0 && range.start <= range.end && range.end <= config.layers)) {
      throw new EngineInputError(
        `layer range [${range.start}, ${range.end}) is outside the model's ${config.layers} layers`,
      );
    }
    const loaded = weights instanceof SharedWeights ? weights : load(config, range, backend, weights);
    this.layers = loaded.layers;
    this.embedding = loaded.embedding;
    this.outputNorm = loaded.outputNorm;
    this.lmHead = loaded.lmHead;
    this.rope = loaded.rope;
    this.state = loaded.state;
  }

  /**
   * An engine over `range`, a part of this one's layers (with the embedding only where this one has
   * it, the head likewise), that runs on this one's loaded weights: a node holding a span of shards
   * serves any sub-span of it without loading anything twice. Its outputs are the bytes a fresh
   * engine over `range` gives (the same arrays run through the same code), and its caches hold only
   * its own layers. It shares this one's scratch activations too: a forward call is synchronous, so
   * no two engines of one family ever run at once.
   */
  slice(range: LayerRange): Engine {
    const own = this.range;
    if (!(own.start <= range.start && range.start <= range.end && range.end <= own.end))
      throw new EngineInputError(
        `layer range [${range.start}, ${range.end}) is not within this engine's layers [${own.start}, ${own.end})`,
      );
    if (range.embedding && !(own.embedding && range.start === own.start))
      throw new EngineInputError(`this engine has no embedding before layer ${range.start} to share`);
    if (range.head && !(own.head && range.end === own.end))
      throw new EngineInputError(`this engine has no head after layer ${range.end - 1} to share`);
    const shared = new SharedWeights(
      this.layers.slice(range.start - own.start, range.end - own.start),
      range.embedding ? this.embedding : undefined,
      range.head ? this.outputNorm : undefined,
      range.head ? this.lmHead : undefined,
      this.rope,
      this.state,
    );
    return new Engine(this.config, range, this.backend, shared);
  }

  createCache(budgetBytes: number): KvCache {
    return new KvCache(this.config, this.layers.length, budgetBytes, this.backend);
  }

  /**
   * Runs positions [startPos, startPos + n) through the range. The cache must hold exactly the
   * positions before startPos (or more, which are then discarded: a replay).
   */
  forward(cache: KvCache, input: ForwardInput, startPos: number, options: { allLogits?: boolean } = {}): ForwardResult {
    return this.forwardBatch([{ cache, input, startPos, allLogits: options.allLogits }])[0]!;
  }

  /**
   * Runs several sessions' positions at once: every matrix product takes the stacked rows of all
   * items (one pass over each weight matrix), while RoPE, the KV cache and attention stay per item.
   * Each item's result has exactly the bytes `forward` gives it alone, since every kernel computes a
   * row the same way whatever rows it is stacked with (see Backend.matmul). Nothing changes until
   * every item has been checked; the items' caches must be distinct.
   */
  forwardBatch(items: readonly BatchItem[]): ForwardResult[] {
    const { hiddenSize: dim, heads, kvHeads, headDim, ffnSize, rmsEps } = this.config;
    if (items.length === 0) throw new EngineInputError('no items to run');
    const counts = items.map((item) => this.check(item));
    if (new Set(items.map((item) => item.cache)).size !== items.length)
      throw new EngineInputError('two items of one batch share a KV cache');
    // Row offset of each item in the stacked buffers.
    const offsets: number[] = [];
    let n = 0;
    for (const count of counts) {
      offsets.push(n);
      n += count;
    }
    for (let i = 0; i < items.length; i++) {
      const { cache, startPos } = items[i]!;
      cache.reserve(startPos + counts[i]!);
    }
    for (const { cache, startPos } of items) cache.length = startPos;
    const s = this.state.ensure(n);
    const { backend } = this;
    const qSize = heads * headDim;
    const kvSize = kvHeads * headDim;

    // x = token embeddings (or the previous range's hidden states)
    for (let i = 0; i < items.length; i++) this.embed(items[i]!.input, s.x.subarray(offsets[i]! * dim), counts[i]!);

    for (let l = 0; l < this.layers.length; l++) {
      const w = this.layers[l]!;

      // attention RMSNorm
      rmsNorm(s.normed, s.x, w.attnNorm, dim, n, rmsEps);

      // Q, K, V projections (plus biases in qwen2)
      backend.matmul(w.q, s.normed, n, s.q);
      backend.matmul(w.k, s.normed, n, s.k);
      backend.matmul(w.v, s.normed, n, s.v);
      if (w.qBias) addBias(s.q, w.qBias, n);
      if (w.kBias) addBias(s.k, w.kBias, n);
      if (w.vBias) addBias(s.v, w.vBias, n);

      for (let i = 0; i < items.length; i++) {
        const { cache, startPos } = items[i]!;
        const rows = counts[i]!;
        const q = s.q.subarray(offsets[i]! * qSize);
        const k = s.k.subarray(offsets[i]! * kvSize);

        // RoPE: rotate each query and key by its position
        this.rotate(q, heads, startPos, rows);
        this.rotate(k, kvHeads, startPos, rows);

        // the new keys and values join the KV cache
        cache.store(l, startPos, rows, k, s.v.subarray(offsets[i]! * kvSize));

        // multi-head attention over every cached position up to each query's own (GQA)
        const attended = s.attended.subarray(offsets[i]! * qSize);
        backend.attention(attended, q, cache.keysOf(l), cache.valuesOf(l), this.config, startPos, rows);
      }

      // output projection, then the residual connection
      backend.matmul(w.output, s.attended, n, s.delta);
      addInPlace(s.x, s.delta, n * dim);

      // FFN RMSNorm
      rmsNorm(s.normed, s.x, w.ffnNorm, dim, n, rmsEps);

      // SwiGLU FFN: down(silu(gate(x)) * up(x)), then the residual connection
      backend.matmul(w.gate, s.normed, n, s.gate);
      backend.matmul(w.up, s.normed, n, s.up);
      backend.swiglu(s.gate, s.up, n * ffnSize);
      backend.matmul(w.down, s.gate, n, s.delta);
      addInPlace(s.x, s.delta, n * dim);
    }
    for (let i = 0; i < items.length; i++) items[i]!.cache.length = items[i]!.startPos + counts[i]!;

    if (!this.lmHead || !this.outputNorm)
      return items.map((_, i) => ({ hidden: s.x.slice(offsets[i]! * dim, (offsets[i]! + counts[i]!) * dim) }));

    // final RMSNorm, of each item's last position only unless every position's logits are wanted;
    // a partial item (a chunk whose last position comes later) wants none
    const wanted = items.map((item, i) => (item.partial ? 0 : item.allLogits ? counts[i]! : 1));
    let rows = 0;
    for (let i = 0; i < items.length; i++) {
      const last = offsets[i]! + counts[i]!;
      rmsNorm(
        s.normed.subarray(rows * dim),
        s.x.subarray((last - wanted[i]!) * dim),
        this.outputNorm,
        dim,
        wanted[i]!,
        rmsEps,
      );
      rows += wanted[i]!;
    }
    if (rows === 0) return items.map(() => ({}));

    // classifier into logits, a fresh array: the caller keeps it past the next call
    const logits = backend.matmul(this.lmHead, s.normed, rows);
    if (items.length === 1) return [{ logits }];
    const vocab = this.config.vocabSize;
    let at = 0;
    return wanted.map((count) => {
      if (count === 0) return {};
      const mine = logits.subarray(at * vocab, (at + count) * vocab);
      at += count;
      return { logits: mine };
    });
  }

  /**
   * How many positions an item holds; refuses an item this range cannot take (wrong input, a start
   * past its cache, more positions than its cache may hold) before anything changes.
   */
  check({ cache, input, startPos }: BatchItem): number {
    if (!Number.isInteger(startPos) || startPos < 0)
      throw new EngineInputError(`position ${startPos} is not a position`);
    if (startPos > cache.length)
      throw new EngineInputError(
        `position ${startPos} skips ahead of the cache, which holds ${cache.length} positions`,
      );
    const n = this.positionsOf(input);
    cache.checkFits(startPos + n);
    return n;
  }

  /** How many positions the input holds; refuses input this range cannot take, before anything changes. */
  private positionsOf(input: ForwardInput): number {
    const { hiddenSize: H, vocabSize } = this.config;
    if ('tokens' in input) {
      if (!this.embedding)
        throw new EngineInputError('this layer range has no embedding: send hidden states, not token ids');
      const n = input.tokens.length;
      if (n === 0) throw new EngineInputError('no tokens to run');
      for (let t = 0; t < n; t++) {
        const id = input.tokens[t]!;
        if (!Number.isInteger(id) || id < 0 || id >= vocabSize)
          throw new EngineInputError(`token id ${id} is outside the vocabulary of ${vocabSize}`);
      }
      return n;
    }
    if (this.embedding)
      throw new EngineInputError('this layer range starts with the embedding: send token ids, not hidden states');
    const { hidden } = input;
    if (hidden.length === 0 || hidden.length % H !== 0) {
      throw new EngineInputError(
        `hidden states of ${hidden.length} values are not a whole number of positions of hidden size ${H}`,
      );
    }
    return hidden.length / H;
  }

  /** Writes the n positions of a checked input into x, [n × hiddenSize]. */
  private embed(input: ForwardInput, x: Float32Array, n: number): void {
    const H = this.config.hiddenSize;
    if ('tokens' in input) {
      for (let t = 0; t < n; t++) this.backend.row(this.embedding!, input.tokens[t]!, x.subarray(t * H, (t + 1) * H));
    } else {
      x.set(input.hidden);
    }
  }

  /** Rotates n rows of `heads` vectors, row t at position startPos + t. */
  private rotate(data: Float32Array, heads: number, startPos: number, n: number): void {
    const rowSize = heads * this.config.headDim;
    for (let t = 0; t < n; t++) this.rope.apply(data, t * rowSize, heads, startPos + t);
  }
}

/** Reads the tensors of `range` from `weights` into the backend's layout. */
function load(config: ModelConfig, range: LayerRange, backend: Backend, weights: WeightSource): SharedWeights {
  const { hiddenSize: H, heads, kvHeads, headDim, ffnSize, vocabSize } = config;
  const qSize = heads * headDim;
  const kvSize = kvHeads * headDim;
  const embedding = range.embedding ? loadMatrix(weights, backend, 'token_embd.weight', vocabSize, H) : undefined;
  const layers: LayerWeights[] = [];
  for (let l = range.start; l < range.end; l++) {
    const p = `blk.${l}.`;
    layers.push({
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
  const outputNorm = range.head ? loadVector(weights, 'output_norm.weight', H) : undefined;
  const lmHead = !range.head
    ? undefined
    : config.tiedEmbeddings
      ? (embedding ?? loadMatrix(weights, backend, 'token_embd.weight', vocabSize, H))
      : loadMatrix(weights, backend, 'output.weight', vocabSize, H);
  const factors = weights.has('rope_freqs.weight')
    ? loadVector(weights, 'rope_freqs.weight', config.ropeDim / 2)
    : undefined;
  return new SharedWeights(layers, embedding, outputNorm, lmHead, new Rope(config, factors), new RunState(config));
}

/** Adds a [size] bias to each of `rows` rows. */
function addBias(data: Float32Array, bias: Float32Array, rows: number): void {
  const size = bias.length;
  for (let r = 0; r < rows; r++) for (let i = 0; i < size; i++) data[r * size + i] = data[r * size + i]! + bias[i]!;
}

/** target[0, length) += delta[0, length). */
function addInPlace(target: Float32Array, delta: Float32Array, length: number): void {
  for (let i = 0; i < length; i++) target[i] = target[i]! + delta[i]!;
}
