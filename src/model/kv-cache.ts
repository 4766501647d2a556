import type { ModelConfig } from './model-files.ts';

export class CacheFullError extends Error {
  readonly code = 'CACHE_FULL';
}

/**
 * Keys and values of one session for a layer range, in f32, grown on demand up to a byte budget.
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

  /** Makes room for positions [0, end); fails when that exceeds the budget or the context. */
  reserve(end: number): void {
    if (end > this.maxPositions) {
      throw new CacheFullError(`session needs ${end} positions, the KV cache holds at most ${this.maxPositions}`);
    }
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

  keysOf(layer: number): Float32Array {
    return this.keys[layer]!;
  }

  valuesOf(layer: number): Float32Array {
    return this.values[layer]!;
  }
}
