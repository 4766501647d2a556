/**
 * The WebAssembly SIMD backend: weights live in one shared WebAssembly.Memory, and `threads - 1`
 * worker threads plus the calling thread split the rows of each product. Jobs are posted and
 * completed through Atomics on a control block in that memory, so a dispatch costs microseconds.
 */
import { Worker } from 'node:worker_threads';
import type { Backend, Matrix } from './backend.ts';
import { dequantize } from './dequantize.ts';
import { byteSize, type GgmlType } from './ggml-type.ts';
import {
  activationBlock,
  awaitChange,
  compileKernels,
  CONTROL_BYTES,
  instantiateKernels,
  type Job,
  kernelFor,
  type KernelExports,
  MAX_CHUNKS,
  needsActivationSums,
  postJob,
  runChunks,
  runJobRows,
  scaleRecordBytes,
  Slot,
} from './wasm-kernels.ts';
import type { PoolWorkerData } from './wasm-worker.ts';

export { createReferenceBackend } from './reference-backend.ts';

export interface WasmBackendOptions {
  /** Threads that compute each product, the calling thread included (≥ 1). */
  readonly threads: number;
}

const PAGE = 65536;
const MAX_PAGES = 65536;
/** Products smaller than this many multiply-adds run on the calling thread alone. */
const PARALLEL_MIN_WORK = 1 << 16;
/** Spin iterations before sleeping: the caller waiting for workers, and idle workers. */
const CALLER_SPINS = 1 << 17;
const WORKER_SPINS = 1 << 18;

/** Bump allocator over the shared memory; the memory only grows. */
class Heap {
  bytes: Uint8Array;

  constructor(
    readonly memory: WebAssembly.Memory,
    private top: number,
  ) {
    this.bytes = new Uint8Array(memory.buffer);
  }

  alloc(size: number, align = 64): number {
    const at = Math.ceil(this.top / align) * align;
    const end = at + size;
    if (end > this.memory.buffer.byteLength) {
      const pages = Math.ceil((end - this.memory.buffer.byteLength) / PAGE);
      if (this.memory.buffer.byteLength / PAGE + pages > MAX_PAGES) {
        throw new Error(`out of WebAssembly memory: ${end} bytes needed, 4 GiB is the limit`);
      }
      this.memory.grow(pages);
      // Growing replaces the buffer object; views made before stay valid over their old range.
      this.bytes = new Uint8Array(this.memory.buffer);
    }
    this.top = end;
    return at;
  }
}

/** Working space of one product: activations in, their quantized form and scales, results out. */
interface Scratch {
  x: number;
  xq: number;
  xd: number;
  out: number;
}

export async function createWasmBackend({ threads }: WasmBackendOptions): Promise<Backend> {
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`threads must be a positive integer, got ${threads}`);
  const module = await compileKernels();
  const memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
  const kernels = instantiateKernels(module, memory);
  const heap = new Heap(memory, 0);
  heap.alloc(kernels.heapBase.value as number); // the kernels' own tables
  kernels.initHalfTable();
  const controlAt = heap.alloc(CONTROL_BYTES);
  const control = new Int32Array(memory.buffer, controlAt, CONTROL_BYTES / 4);
  const workers = await startWorkers(threads - 1, { module, memory, control: controlAt, spins: WORKER_SPINS });
  return new WasmBackend(threads, kernels, heap, control, workers);
}

async function startWorkers(count: number, data: PoolWorkerData): Promise<Worker[]> {
  const workers: Worker[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const worker = new Worker(new URL('./wasm-worker.js', import.meta.url), { workerData: data });
      workers.push(worker);
      await new Promise<void>((resolve, reject) => {
        const exited = (code: number): void =>
          reject(new Error(`kernel worker exited with code ${code} while starting`));
        worker.once('error', reject);
        worker.once('exit', exited);
        worker.once('message', () => {
          worker.off('error', reject);
          worker.off('exit', exited);
          resolve();
        });
      });
      // An unclosed backend must not keep the process alive.
      worker.unref();
    }
  } catch (error) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw error;
  }
  return workers;
}

class WasmBackend implements Backend {
  private readonly matrices = new WeakSet<Matrix>();
  private generation = 0;
  private scratch: Scratch | undefined;
  private scratchCapacity = { elements: 0, records: 0, outputs: 0 };
  private closed = false;

  constructor(
    readonly threads: number,
    private readonly kernels: KernelExports,
    private readonly heap: Heap,
    private readonly control: Int32Array,
    private readonly workers: Worker[],
  ) {}

  allocMatrix(type: GgmlType, rows: number, cols: number): Matrix {
    this.assertOpen();
    if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(cols) || cols < 1) {
      throw new Error(`bad matrix shape ${rows}×${cols}`);
    }
    byteSize(type, cols); // rows must be whole blocks
    const size = byteSize(type, rows * cols);
    const at = this.heap.alloc(size);
    const matrix: Matrix = { type, rows, cols, bytes: new Uint8Array(this.heap.memory.buffer, at, size) };
    this.matrices.add(matrix);
    return matrix;
  }

  matmul(w: Matrix, x: Float32Array, nTokens: number, out?: Float32Array): Float32Array {
    this.assertOpen();
    if (!this.matrices.has(w)) throw new Error('matrix was not allocated by this backend');
    if (!Number.isInteger(nTokens) || nTokens < 1)
      throw new Error(`nTokens must be a positive integer, got ${nTokens}`);
    const { type, rows, cols } = w;
    const n = nTokens * cols;
    if (x.length < n) throw new Error(`x holds ${x.length} values, ${nTokens} tokens × ${cols} need ${n}`);
    const result: Float32Array = out ?? new Float32Array(nTokens * rows);
    if (result.length < nTokens * rows) throw new Error(`out holds ${result.length} values, need ${nTokens * rows}`);

    const s = this.reserve(n, scaleRecordBytes(cols, nTokens), nTokens * rows);
    new Float32Array(this.heap.bytes.buffer, s.x, n).set(x.subarray(0, n));
    const block = activationBlock(type);
    if (block !== 0) {
      this.kernels.quantizeActivations(s.x, cols, nTokens, block, s.xq, s.xd, needsActivationSums(type) ? 1 : 0);
    }
    this.run({ type, w: w.bytes.byteOffset, cols, rows, nTokens, x: block === 0 ? s.x : s.xq, xd: s.xd, out: s.out });
    result.set(new Float32Array(this.heap.bytes.buffer, s.out, nTokens * rows));
    return result;
  }

  row(w: Matrix, r: number, out: Float32Array): Float32Array {
    if (!Number.isInteger(r) || r < 0 || r >= w.rows) throw new Error(`row ${r} outside 0..${w.rows - 1}`);
    const rowBytes = byteSize(w.type, w.cols);
    return dequantize(w.type, w.bytes.subarray(r * rowBytes, (r + 1) * rowBytes), w.cols, out);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.control, Slot.STOP, 1);
    Atomics.add(this.control, Slot.GENERATION, 1);
    Atomics.notify(this.control, Slot.GENERATION);
    await Promise.all(
      this.workers.map(
        (worker) =>
          new Promise((resolve) => {
            worker.once('exit', resolve);
            worker.ref(); // unreferenced, its exit would not keep the process waiting for this promise
          }),
      ),
    );
  }

  /** Splits the rows of `job` over the pool and returns when all are computed. */
  private run(job: Job): void {
    const kernel = kernelFor(this.kernels, job.type);
    if (this.workers.length === 0 || job.rows * job.cols * job.nTokens < PARALLEL_MIN_WORK) {
      runJobRows(kernel, job, 0, job.rows);
      return;
    }
    const c = this.control;
    const chunkRows = Math.max(1, Math.ceil(job.rows / ((this.workers.length + 1) * 8)));
    const chunks = Math.ceil(job.rows / chunkRows);
    if (chunks > MAX_CHUNKS) throw new Error(`too many chunks: ${chunks}`);
    this.generation = (this.generation + 1) & 0xfffff;
    postJob(c, this.generation, job, chunks, chunkRows);
    runChunks(this.kernels, c, this.generation);
    // Wait for the chunks that workers took; a worker that took none is not waited for.
    let done = Atomics.load(c, Slot.DONE);
    while (done !== chunks) done = awaitChange(c, Slot.DONE, done, CALLER_SPINS);
    if (Atomics.exchange(c, Slot.FAILED, 0) !== 0) throw new Error('a matrix kernel failed in one of the pool threads');
  }

  private reserve(elements: number, records: number, outputs: number): Scratch {
    const cap = this.scratchCapacity;
    if (this.scratch === undefined || elements > cap.elements || records > cap.records || outputs > cap.outputs) {
      // Grow geometrically: the old region is abandoned, the bump allocator cannot free it.
      cap.elements = Math.max(elements, 2 * cap.elements);
      cap.records = Math.max(records, 2 * cap.records);
      cap.outputs = Math.max(outputs, 2 * cap.outputs);
      this.scratch = {
        x: this.heap.alloc(4 * cap.elements),
        xq: this.heap.alloc(2 * cap.elements),
        xd: this.heap.alloc(cap.records),
        out: this.heap.alloc(4 * cap.outputs),
      };
    }
    return this.scratch;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('backend is closed');
  }
}
