/**
 * Kernel micro-benchmark (not a test): matvec and 64-token matmul throughput of Qwen2-0.5B's
 * shapes, 4864×896 (ffn_gate/up: rows × columns) and 896×4864 (ffn_down), at 1 and 2 threads.
 * Each product uses the next of enough copies of its weights to fill 64 MB, so they come from
 * memory as in a whole model rather than from the CPU's last-level cache.
 * Run: node --import tsx src/tensor/kernels.bench.ts
 */
import type { Backend } from '../src/tensor/backend.ts';
import { BLOCK_LAYOUT, byteSize, GgmlType, ggmlTypeName } from '../src/tensor/ggml-type.ts';
import { quantize } from '../src/tensor/quantize.ts';
import { randomValues } from '../test/support/tensor-data.ts';
import { createWasmBackend } from '../src/tensor/wasm-backend.ts';

const SHAPES: [number, number][] = [
  [4864, 896],
  [896, 4864],
];
const TYPES = [GgmlType.F32, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K];
const THREADS = [1, 2];
const TOKENS = [1, 64];
const WORKING_SET = 64e6;
/** Each measurement repeats the product for at least this long and reports the fastest tenth. */
const MIN_SECONDS = 0.5;

function fastTenth(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 10)]!;
}

function secondsPerCall(backend: Backend, type: GgmlType, rows: number, cols: number, nTokens: number): number {
  const bytes = quantize(type, randomValues(rows * cols, 1));
  const copies = Math.ceil(WORKING_SET / bytes.length);
  const weights = Array.from({ length: copies }, () => {
    const w = backend.allocMatrix(type, rows, cols);
    w.bytes.set(bytes);
    return w;
  });
  const x = randomValues(nTokens * cols, 2);
  const out = new Float32Array(nTokens * rows);
  let next = 0;
  for (let i = 0; i < copies; i++) backend.matmul(weights[next++ % copies]!, x, nTokens, out); // compile, page in
  const times: number[] = [];
  const start = performance.now();
  while (performance.now() - start < MIN_SECONDS * 1000 || times.length < 10) {
    const t0 = performance.now();
    backend.matmul(weights[next++ % copies]!, x, nTokens, out);
    times.push((performance.now() - t0) / 1000);
  }
  return fastTenth(times);
}

const table: string[][] = [['type', 'shape', 'threads', 'tokens', 'ms/token', 'GFLOP/s', 'weight GB/s']];
for (const threads of THREADS) {
  // A fresh backend per thread count: the copies of every shape stay allocated until it closes.
  const backend = await createWasmBackend({ threads });
  for (const type of TYPES) {
    for (const [rows, cols] of SHAPES) {
      if (cols % BLOCK_LAYOUT[type].elements !== 0) continue;
      for (const nTokens of TOKENS) {
        const s = secondsPerCall(backend, type, rows, cols, nTokens);
        table.push([
          ggmlTypeName(type),
          `${rows}×${cols}`,
          String(threads),
          String(nTokens),
          ((s * 1e3) / nTokens).toFixed(3),
          ((2 * rows * cols * nTokens) / s / 1e9).toFixed(2),
          (byteSize(type, rows * cols) / s / 1e9).toFixed(2),
        ]);
      }
    }
  }
  await backend.close();
}

const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
for (const row of table) console.log(row.map((cell, i) => cell.padStart(widths[i]!)).join('  '));
