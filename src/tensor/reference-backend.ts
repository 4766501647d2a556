/**
 * A plain JavaScript backend for checking the fast one: every weight row is dequantized exactly
 * and dotted with the activations in f64. Slow, single-threaded, obviously correct.
 */
import { attention } from './attention-reference.ts';
import type { AttentionShape, Backend, Matrix } from './backend.ts';
import { dequantize } from './dequantize.ts';
import { byteSize, type GgmlType } from './ggml-type.ts';
import { swiglu } from './swiglu-reference.ts';

export function createReferenceBackend(): Backend {
  return {
    threads: 1,
    allocMatrix(type: GgmlType, rows: number, cols: number): Matrix {
      byteSize(type, cols);
      return { type, rows, cols, bytes: new Uint8Array(byteSize(type, rows * cols)) };
    },
    matmul(
      w: Matrix,
      x: Float32Array,
      nTokens: number,
      out: Float32Array = new Float32Array(nTokens * w.rows),
    ): Float32Array {
      const { rows, cols } = w;
      if (x.length < nTokens * cols) throw new Error(`x holds ${x.length} values, need ${nTokens * cols}`);
      const row = new Float32Array(cols);
      for (let r = 0; r < rows; r++) {
        this.row(w, r, row);
        for (let t = 0; t < nTokens; t++) {
          let sum = 0;
          for (let c = 0; c < cols; c++) sum += row[c]! * x[t * cols + c]!;
          out[t * rows + r] = sum;
        }
      }
      return out;
    },
    attention(
      out: Float32Array,
      q: Float32Array,
      keys: Float32Array,
      values: Float32Array,
      shape: AttentionShape,
      startPos: number,
      n: number,
    ): void {
      attention(out, q, keys, values, new Float32Array(startPos + n), shape, startPos, n);
    },
    swiglu,
    allocFloats: (length: number) => new Float32Array(length),
    freeFloats(): void {},
    row(w: Matrix, r: number, out: Float32Array): Float32Array {
      const rowBytes = byteSize(w.type, w.cols);
      return dequantize(w.type, w.bytes.subarray(r * rowBytes, (r + 1) * rowBytes), w.cols, out);
    },
    async close(): Promise<void> {},
  };
}
