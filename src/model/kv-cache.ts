import { TesseraError } from '../core/errors.ts';
import type { Backend } from '../tensor/backend.ts';
import { keyQuadFloats, storeKeyQuads } from '../tensor/key-quads.ts';
import type { ModelConfig } from './model-files.ts';

/** A session needs more positions than its KV cache's budget or the model's context allows. */
export class CacheFullError extends TesseraError {
  constructor(message: string) {
    super('KV_CACHE_FULL', 'resource_exhausted', message);
  }
}

/** Where a cache's arrays come from and go back to. */
type FloatStore = Pick<Backend, 'allocFloats' | 'freeFloats'>;

/** What a cache holds of its store, apart from the cache, so that a cache never released still gives it back. */
interface Holdings {
  readonly store: FloatStore;
  arrays: Float32Array[];
}

function giveBack(holdings: Holdings): void {
  for (const array of holdings.arrays) holdings.store.freeFloats(array);
  holdings.arrays = [];
}

// A cache dropped without release() (a test, an abandoned generation) gives its memory back when
// collected; sessions release theirs when they end, since collection may come late.
const dropped = new FinalizationRegistry<Holdings>(giveBack);

/**
 * Keys and values of one session for a layer range, in f32, in memory the backend's attention reads
 * in place, grown on demand up to a byte budget. Each layer's keys are in quads of positions
 * (src/tensor/key-quads.ts) and its values [positions × kvHeads × headDim]. `length` positions are
 * valid; writing at an earlier position truncates (a replay from there).
 */
export class KvCache {
  length = 0;
  private capacity = 0;
  private keys: Float32Array[];
  private values: Float32Array[];
  readonly maxPositions: number;
  private readonly rowSize: number;
  private readonly holdings: Holdings;
  #released = false;

  constructor(
    private readonly config: ModelConfig,
    readonly layerCount: number,
    budgetBytes: number,
    store: FloatStore,
  ) {
    this.rowSize = config.kvHeads * config.headDim;
    const bytesPerPosition = layerCount * this.rowSize * 4 * 2;
    this.maxPositions = Math.min(config.contextLength, Math.floor(budgetBytes / Math.max(1, bytesPerPosition)));
    this.keys = Array.from({ length: layerCount }, () => new Float32Array(0));
    this.values = Array.from({ length: layerCount }, () => new Float32Array(0));
    this.holdings = { store, arrays: [] };
    dropped.register(this, this.holdings, this.holdings);
  }

  /** Bytes currently allocated. */
  get bytes(): number {
    return this.capacity * this.layerCount * this.rowSize * 8;
  }

  /** Fails when positions [0, end) exceed the budget or the context; allocates nothing. */
  checkFits(end: number): void {
    if (end > this.maxPositions) {
      throw new CacheFullError(`session needs ${end} positions, the KV cache holds at most ${this.maxPositions}`);
    }
  }

  /** Makes room for positions [0, end); fails when that exceeds the budget or the context. */
  reserve(end: number): void {
    this.assertHeld();
    this.checkFits(end);
    if (end <= this.capacity) return;
    // Powers of two (up to the budget's cap): the sizes recur from session to session, so the
    // regions one session gives back fit the next.
    const capacity = Math.min(this.maxPositions, 2 ** Math.max(4, Math.ceil(Math.log2(end))));
    const { kvHeads, headDim } = this.config;
    const { store } = this.holdings;
    const old = this.holdings.arrays;
    const arrays: Float32Array[] = [];
    for (let l = 0; l < this.layerCount; l++) {
      // quads grow at the end, so the valid positions are a prefix of both layouts
      const k = store.allocFloats(keyQuadFloats(capacity, kvHeads, headDim));
      k.set(this.keys[l]!.subarray(0, keyQuadFloats(this.length, kvHeads, headDim)));
      const v = store.allocFloats(capacity * this.rowSize);
      v.set(this.values[l]!.subarray(0, this.length * this.rowSize));
      this.keys[l] = k;
      this.values[l] = v;
      arrays.push(k, v);
    }
    this.holdings.arrays = arrays;
    for (const array of old) store.freeFloats(array);
    this.capacity = capacity;
  }

  /** Writes the keys and values of positions [start, start + n) of a layer, rows of kvHeads × headDim. */
  store(layer: number, start: number, n: number, keys: Float32Array, values: Float32Array): void {
    this.assertHeld();
    const size = n * this.rowSize;
    storeKeyQuads(this.keys[layer]!, start, keys, n, this.config.kvHeads, this.config.headDim);
    this.values[layer]!.set(values.subarray(0, size), start * this.rowSize);
  }

  /** A layer's keys, in quads of positions. */
  keysOf(layer: number): Float32Array {
    this.assertHeld();
    return this.keys[layer]!;
  }

  valuesOf(layer: number): Float32Array {
    this.assertHeld();
    return this.values[layer]!;
  }

  /** Whether release() was called: the memory is gone. */
  get released(): boolean {
    return this.#released;
  }

  /** Gives the memory back now; the cache must not be used again. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    dropped.unregister(this.holdings);
    giveBack(this.holdings);
    this.keys = [];
    this.values = [];
    this.capacity = 0;
    this.length = 0;
  }

  private assertHeld(): void {
    if (this.#released) throw new Error('KV cache used after release');
  }
}
