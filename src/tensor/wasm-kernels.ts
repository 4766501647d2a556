/**
 * The compiled WebAssembly kernels (src/tensor/wasm/kernels.ts) as seen from JavaScript, and the
 * job protocol that the calling thread and the pool's workers share: one control block of int32
 * in shared memory describes the current matrix product, and every thread takes row chunks from
 * it until none are left.
 */
import { readFile } from 'node:fs/promises';
import { GgmlType, ggmlTypeName } from './ggml-type.ts';

/** (w, cols, r0, r1, nTok, x, xd, xs, out, rows); see the header of wasm/kernels.ts. */
type MatmulKernel = (w: number, cols: number, r0: number, r1: number, nTok: number, x: number,
  xd: number, xs: number, out: number, rows: number) => void;

export interface KernelExports {
  /** First address the kernels leave to the backend (below it: their f16 table). */
  heapBase: WebAssembly.Global;
  initHalfTable(): void;
  quantizeActivations(x: number, n: number, block: number, qs: number, ds: number, sums: number): void;
  matmulF32: MatmulKernel;
  matmulF16: MatmulKernel;
  matmulBF16: MatmulKernel;
  matmulQ8_0: MatmulKernel;
  matmulQ4_0: MatmulKernel;
  matmulQ4_K: MatmulKernel;
  matmulQ6_K: MatmulKernel;
}

const KERNEL_NAMES: Readonly<Record<GgmlType, keyof KernelExports>> = {
  [GgmlType.F32]: 'matmulF32',
  [GgmlType.F16]: 'matmulF16',
  [GgmlType.BF16]: 'matmulBF16',
  [GgmlType.Q8_0]: 'matmulQ8_0',
  [GgmlType.Q4_0]: 'matmulQ4_0',
  [GgmlType.Q4_K]: 'matmulQ4_K',
  [GgmlType.Q6_K]: 'matmulQ6_K',
};

/**
 * How activations are prepared for a weight type: float weights read f32 activations; quantized
 * ones read int16 activations with one scale per `block` (and, for Q4_K, per-32 sums).
 */
export function activationBlock(type: GgmlType): 0 | 32 | 256 {
  switch (type) {
    case GgmlType.F32: case GgmlType.F16: case GgmlType.BF16: return 0;
    case GgmlType.Q8_0: case GgmlType.Q4_0: return 32;
    case GgmlType.Q4_K: case GgmlType.Q6_K: return 256;
  }
}

export function needsActivationSums(type: GgmlType): boolean {
  return type === GgmlType.Q4_K || type === GgmlType.Q4_0;
}

export const WASM_PATH = new URL('./wasm/build/kernels.wasm', import.meta.url);

export async function compileKernels(): Promise<WebAssembly.Module> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(await readFile(WASM_PATH));
  } catch (cause) {
    throw new Error(`missing ${WASM_PATH.pathname}: run \`npm run build:wasm\``, { cause });
  }
  return WebAssembly.compile(bytes);
}

export function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return instance.exports as unknown as KernelExports;
}

/** Int32 slots of the control block. Addresses are stored as int32 bit patterns. */
export const Slot = {
  /** Bumped once per job (and for shutdown); workers wait on it. */
  GENERATION: 0,
  /** Workers that have finished the current job; the caller waits on it. */
  DONE: 1,
  /** Next row not yet taken. */
  NEXT_ROW: 2,
  CHUNK: 3,
  TYPE: 4,
  W: 5,
  COLS: 6,
  ROWS: 7,
  TOKENS: 8,
  X: 9,
  XD: 10,
  XS: 11,
  OUT: 12,
  /** Set by a worker whose kernel threw. */
  FAILED: 13,
  STOP: 14,
} as const;
export const CONTROL_BYTES = 64;

/** Takes row chunks of the job described in `control` until all are taken. */
export function runRows(kernels: KernelExports, control: Int32Array): void {
  const type = control[Slot.TYPE]! as GgmlType;
  const kernel = kernels[KERNEL_NAMES[type]] as MatmulKernel | undefined;
  if (kernel === undefined) throw new Error(`no kernel for ${ggmlTypeName(type)}`);
  const rows = control[Slot.ROWS]!, chunk = control[Slot.CHUNK]!;
  const w = control[Slot.W]!, cols = control[Slot.COLS]!, nTok = control[Slot.TOKENS]!;
  const x = control[Slot.X]!, xd = control[Slot.XD]!, xs = control[Slot.XS]!, out = control[Slot.OUT]!;
  for (;;) {
    const r0 = Atomics.add(control, Slot.NEXT_ROW, chunk);
    if (r0 >= rows) return;
    kernel(w, cols, r0, Math.min(r0 + chunk, rows), nTok, x, xd, xs, out, rows);
  }
}

/**
 * Spins on `slot` while it equals `value`, then sleeps on it; returns its new value. Spinning
 * first keeps the wake-up of back-to-back jobs in the microseconds; sleeping after `spins`
 * iterations keeps idle threads off the CPU.
 */
export function awaitChange(control: Int32Array, slot: number, value: number, spins: number): number {
  for (let i = 0; i < spins; i++) {
    const now = Atomics.load(control, slot);
    if (now !== value) return now;
  }
  for (;;) {
    Atomics.wait(control, slot, value);
    const now = Atomics.load(control, slot);
    if (now !== value) return now;
  }
}
