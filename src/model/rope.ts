import type { ModelConfig } from './model-files.ts';

/**
 * Rotary position embedding. The angle table is built once per position with f64 arithmetic so every
 * engine computes the same rotations.
 */
export class Rope {
  private readonly inverseFrequencies: Float64Array;
  private cos = new Float32Array(0);
  private sin = new Float32Array(0);
  private positions = 0;

  constructor(
    private readonly config: ModelConfig,
    frequencyFactors?: Float32Array,
  ) {
    const half = config.ropeDim / 2;
    this.inverseFrequencies = new Float64Array(half);
    for (let i = 0; i < half; i++) {
      const base = Math.pow(config.ropeTheta, (-2 * i) / config.ropeDim);
      this.inverseFrequencies[i] = frequencyFactors ? base / frequencyFactors[i]! : base;
    }
  }

  private ensure(positions: number): void {
    if (positions <= this.positions) return;
    const capacity = Math.max(positions, this.positions * 2, 64);
    const half = this.inverseFrequencies.length;
    const cos = new Float32Array(capacity * half);
    const sin = new Float32Array(capacity * half);
    for (let p = 0; p < capacity; p++) {
      for (let i = 0; i < half; i++) {
        const angle = p * this.inverseFrequencies[i]!;
        cos[p * half + i] = Math.cos(angle);
        sin[p * half + i] = Math.sin(angle);
      }
    }
    this.cos = cos;
    this.sin = sin;
    this.positions = capacity;
  }

  /** Rotates `heads` vectors of headDim at data[offset...] for position `pos`. */
  apply(data: Float32Array, offset: number, heads: number, pos: number): void {
    this.ensure(pos + 1);
    const { headDim, ropeStyle } = this.config;
    const half = this.inverseFrequencies.length;
    const table = pos * half;
    for (let h = 0; h < heads; h++) {
      const base = offset + h * headDim;
      for (let i = 0; i < half; i++) {
        const c = this.cos[table + i]!;
        const s = this.sin[table + i]!;
        // interleaved rotates (2i, 2i+1); neox rotates (i, i + ropeDim/2)
        const a = ropeStyle === 'interleaved' ? base + 2 * i : base + i;
        const b = ropeStyle === 'interleaved' ? a + 1 : a + half;
        const x0 = data[a]!;
        const x1 = data[b]!;
        data[a] = Math.fround(x0 * c) - Math.fround(x1 * s);
        data[b] = Math.fround(x0 * s) + Math.fround(x1 * c);
      }
    }
  }
}
