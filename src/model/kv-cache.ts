import { TesseraError } from '../core/errors.ts';
import type { ModelConfig } from './model-files.ts';

/** A session needs more positions than its KV cache's budget or the model's context allows. */
export class CacheFullError extends TesseraError {
  constructor(message: string) {
    super('KV_CACHE_FULL', 'resource_exhausted', message);
  }
}

/**
 * Keys and values of one session for a layer range, in f32, grown on demand up to a byte budget.
 * Each layer's keys and values are [positions × kvHeads × headDim].
 * `length` positions are valid; writing at an earlier position truncates (a replay from there).
 */
export class KvCache {
  length = 0;
  private capacity = 0;
  private keys: Float32Array[];
  private values: Float32Array[];
  readonly maxPositions: number;
  private readonly rowSize: number;

  constructor(
    config: ModelConfig,
    readonly layerCount: number,
    budgetBytes: number,
  ) {
    this.rowSize = config.kvHeads * config.headDim;
    const bytesPerPosition = layerCount * this.rowSize * 4 * 2;
    this.maxPositions = Math.min(config.contextLength, Math.floor(budgetBytes / Math.max(1, bytesPerPosition)));
    this.keys = Array.from({ length: layerCount }, () => new Float32Array(0));
    this.values = Array.from({ length: layerCount }, () => new Float32Array(0));
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
    this.checkFits(end);
    if (end <= this.capacity) return;
    const capacity = Math.min(this.maxPositions, Math.max(end, this.capacity * 2, 16));
    for (let l = 0; l < this.layerCount; l++) {
      const k = new Float32Array(capacity * this.rowSize);
      k.set(this.keys[l]!.subarray(0, this.length * this.rowSize));
      this.keys[l] = k;
      const v = new Float32Array(capacity * this.rowSize);
      v.set(this.values[l]!.subarray(0, this.length * this.rowSize));
      this.values[l] = v;
    }
    this.capacity = capacity;
  }

  /** Writes the keys and values of positions [start, start + n) of a layer, rows of kvHeads × headDim. */
  store(layer: number, start: number, n: number, keys: Float32Array, values: Float32Array): void {
    const size = n * this.rowSize;
    this.keys[layer]!.set(keys.subarray(0, size), start * this.rowSize);
    this.values[layer]!.set(values.subarray(0, size), start * this.rowSize);
  }

  keysOf(layer: number): Float32Array {
    return this.keys[layer]!;
  }

  valuesOf(layer: number): Float32Array {
    return this.values[layer]!;
  }
}
