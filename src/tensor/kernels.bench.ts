/**
 * Kernel micro-benchmark (not a test): matvec and 64-token matmul throughput of an 896×4864 weight
 * (Qwen2-0.5B's ffn_down shape: 896 rows of 4864 columns) at 1 and 2 threads.
 * Run: node --import tsx src/tensor/kernels.bench.ts
 */
import type { Backend } from './backend.ts';
import { byteSize, GgmlType, ggmlTypeName } from './ggml-type.ts';
import { quantize } from './quantize.ts';
import { randomValues } from './test-data.ts';
import { createWasmBackend } from './wasm-backend.ts';

const ROWS = 896;
const COLS = 4864;
const TYPES = [GgmlType.F32, GgmlType.Q8_0, GgmlType.Q4_K];
const THREADS = [1, 2];
const TOKENS = [1, 64];
/** Each measurement repeats the product for at least this long and reports the median run. */
const MIN_SECONDS = 0.5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function secondsPerCall(backend: Backend, type: GgmlType, nTokens: number): number {
  const w = backend.allocMatrix(type, ROWS, COLS);
  w.bytes.set(quantize(type, randomValues(ROWS * COLS, 1)));
  const x = randomValues(nTokens * COLS, 2);
  const out = new Float32Array(nTokens * ROWS);
  for (let i = 0; i < 3; i++) backend.matmul(w, x, nTokens, out); // warm-up: compile, page in
  const times: number[] = [];
  const start = performance.now();
  while (performance.now() - start < MIN_SECONDS * 1000 || times.length < 5) {
    const t0 = performance.now();
    backend.matmul(w, x, nTokens, out);
    times.push((performance.now() - t0) / 1000);
  }
  return median(times);
}

const rows: string[][] = [['type', 'threads', 'tokens', 'ms/call', 'GFLOP/s', 'weight GB/s']];
for (const threads of THREADS) {
  const backend = await createWasmBackend({ threads });
  for (const type of TYPES) {
    for (const nTokens of TOKENS) {
      const s = secondsPerCall(backend, type, nTokens);
      rows.push([ggmlTypeName(type), String(threads), String(nTokens), (s * 1e3).toFixed(3),
        ((2 * ROWS * COLS * nTokens) / s / 1e9).toFixed(2), (byteSize(type, ROWS * COLS) / s / 1e9).toFixed(2)]);
    }
  }
  await backend.close();
}

const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
console.log(`${ROWS}×${COLS} weights (rows × columns)`);
for (const row of rows) console.log(row.map((cell, i) => cell.padStart(widths[i]!)).join('  '));
