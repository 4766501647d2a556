/**
 * The WebAssembly SIMD backend: weights live in one shared WebAssembly.Memory, and `threads - 1`
 * worker threads plus the calling thread split the rows of each product. Jobs are posted and
 * completed through Atomics on a control block in that memory, so a dispatch costs microseconds.
 */
import { Worker } from 'node:worker_threads';
import type { AttentionShape, Backend, Matrix } from './backend.ts';
import { dequantize } from './dequantize.ts';
import { byteSize, type GgmlType } from './ggml-type.ts';
import {
  activationBlock,
  type AttentionJob,
  attentionChunks,
  attentionScratchBytes,
  awaitChange,
  compileKernels,
  CONTROL_BYTES,
  instantiateKernels,
  type Job,
  kernelFor,
  type KernelExports,
  MAX_CHUNKS,
  needsActivationSums,
  postAttentionJob,
  postJob,
  runAttentionChunk,
  runChunks,
  runJobRows,
  scaleRecordBytes,
  Slot,
} from './wasm-kernels.ts';
import { keyQuadFloats } from './key-quads.ts';
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
/**
 * Spin iterations before sleeping (tens of microseconds): the caller waiting for workers, and idle
 * workers. Long enough to cover the gaps between the products of one step; no longer, since the
 * nodes of a pipeline on one machine take turns on its cores (`tessera up` gives each node all of
 * them), and a thread spinning for a job that is not coming takes the core the next node computes on
 * (2 shard nodes of 2 threads on 2 cores, 8 sessions: 34-37 tok/s at 2^17/2^18 spins, 43-45 at 2^14).
 */
const CALLER_SPINS = 1 << 14;
const WORKER_SPINS = 1 << 14;

/**
 * Bump allocator over the shared memory; the memory only grows. Regions given back (KV caches)
 * are kept by size and handed out again for that size: caches grow by doubling from one size, so
 * the sizes recur.
 */
class Heap {
  bytes: Uint8Array;
  private readonly freed = new Map<number, number[]>();

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
        throw new OutOfKernelMemory(`out of WebAssembly memory: ${end} bytes needed, 4 GiB is the limit`);
      }
      this.memory.grow(pages);
      // Growing replaces the buffer object; views made before stay valid over their old range.
      this.bytes = new Uint8Array(this.memory.buffer);
    }
    this.top = end;
    return at;
  }

  /** A region of `size` bytes given back earlier, else a new one; undefined past the memory's limit. */
  reuseOrAlloc(size: number): number | undefined {
    const at = this.freed.get(size)?.pop();
    if (at !== undefined) return at;
    try {
      return this.alloc(size);
    } catch (error) {
      if (error instanceof OutOfKernelMemory) return undefined;
      throw error;
    }
  }

  giveBack(at: number, size: number): void {
    const list = this.freed.get(size);
    if (list === undefined) this.freed.set(size, [at]);
    else list.push(at);
  }
}

class OutOfKernelMemory extends Error {}

/** Working space of one attention: its operands, copied in (keys and values unless they lie here), and each thread's scratch. */
interface AttentionScratch {
  q: number;
  out: number;
  keys: number;
  values: number;
  scratch: number;
}

/** Attention rows per chunk: one for decode, blocks of query rows for prefill. */
const ATTENTION_BLOCK = 16;
/** Heads × query rows beyond which blocks grow, keeping the chunk count under MAX_CHUNKS. */
const ATTENTION_MAX_CHUNKS = 2048;

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

async function startWorkers(count: number, data: Omit<PoolWorkerData, 'thread'>): Promise<Worker[]> {
  const workers: Worker[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const workerData: PoolWorkerData = { ...data, thread: i + 1 };
      const worker = new Worker(new URL('./wasm-worker.js', import.meta.url), { workerData });
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
  /** allocFloats's arrays in this memory, and their regions' sizes in bytes. */
  private readonly floats = new WeakMap<Float32Array, number>();
  private generation = 0;
  private scratch: Scratch | undefined;
  private scratchCapacity = { elements: 0, records: 0, outputs: 0 };
  private attentionScratch: AttentionScratch | undefined;
  private attentionCapacity: Record<keyof AttentionScratch, number> | undefined;
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

  attention(
    out: Float32Array,
    q: Float32Array,
    keys: Float32Array,
    values: Float32Array,
    { heads, kvHeads, headDim }: AttentionShape,
    startPos: number,
    n: number,
  ): void {
    this.assertOpen();
    const shape = [heads, kvHeads, headDim, startPos, n];
    if (!shape.every(Number.isInteger) || heads < 1 || kvHeads < 1 || headDim < 1 || startPos < 0 || n < 1) {
      throw new Error(
        `bad attention shape: heads ${heads}, kvHeads ${kvHeads}, headDim ${headDim}, at ${startPos} + ${n}`,
      );
    }
    if (heads % kvHeads !== 0) throw new Error(`kvHeads ${kvHeads} does not divide heads ${heads}`);
    const visible = startPos + n;
    const queries = n * heads * headDim;
    const cachedKeys = keyQuadFloats(visible, kvHeads, headDim);
    const cachedValues = visible * kvHeads * headDim;
    if (q.length < queries || out.length < queries) throw new Error(`q and out need ${queries} values`);
    if (keys.length < cachedKeys || values.length < cachedValues)
      throw new Error(`keys and values need ${cachedKeys} and ${cachedValues} values`);

    const keysHere = this.floats.has(keys);
    const valuesHere = this.floats.has(values);
    const scratchStride = attentionScratchBytes(visible);
    const s = this.reserveAttention({
      q: 4 * queries,
      out: 4 * queries,
      keys: keysHere ? 0 : 4 * cachedKeys,
      values: valuesHere ? 0 : 4 * cachedValues,
      scratch: scratchStride * (this.workers.length + 1),
    });
    const buffer = this.heap.bytes.buffer;
    new Float32Array(buffer, s.q, queries).set(q.subarray(0, queries));
    if (!keysHere) new Float32Array(buffer, s.keys, cachedKeys).set(keys.subarray(0, cachedKeys));
    if (!valuesHere) new Float32Array(buffer, s.values, cachedValues).set(values.subarray(0, cachedValues));
    const block = Math.max(n === 1 ? 1 : ATTENTION_BLOCK, Math.ceil((heads * n) / ATTENTION_MAX_CHUNKS));
    const job: AttentionJob = {
      q: s.q,
      keys: keysHere ? keys.byteOffset : s.keys,
      values: valuesHere ? values.byteOffset : s.values,
      out: s.out,
      scratch: s.scratch,
      scratchStride,
      heads,
      kvHeads,
      headDim,
      startPos,
      n,
      block,
    };
    const chunks = attentionChunks(job);
    if (chunks > MAX_CHUNKS) throw new Error(`too many attention chunks: ${chunks}`);
    // About the multiply-adds of the scores and of the weighted sum.
    const work = 2 * heads * headDim * n * (startPos + (n + 1) / 2);
    if (this.workers.length === 0 || work < PARALLEL_MIN_WORK) {
      for (let chunk = 0; chunk < chunks; chunk++) runAttentionChunk(this.kernels, job, chunk, 0);
    } else {
      this.generation = (this.generation + 1) & 0xfffff;
      postAttentionJob(this.control, this.generation, job);
      this.finish(chunks, 'an attention kernel');
    }
    out.set(new Float32Array(this.heap.bytes.buffer, s.out, queries));
  }

  swiglu(gate: Float32Array, up: Float32Array, length: number): void {
    this.assertOpen();
    if (!Number.isInteger(length) || length < 0) throw new Error(`length must be a whole number, got ${length}`);
    if (gate.length < length || up.length < length) throw new Error(`gate and up need ${length} values`);
    // One thread: two streams of a few MB at most, a small part of the products around it.
    const s = this.reserve(length, 0, length);
    const buffer = this.heap.bytes.buffer;
    new Float32Array(buffer, s.x, length).set(gate.subarray(0, length));
    new Float32Array(buffer, s.out, length).set(up.subarray(0, length));
    this.kernels.swigluF32(s.x, s.out, length);
    gate.set(new Float32Array(this.heap.bytes.buffer, s.x, length));
  }

  allocFloats(length: number): Float32Array {
    this.assertOpen();
    if (!Number.isInteger(length) || length < 0) throw new Error(`length must be a whole number, got ${length}`);
    const size = Math.ceil((4 * length) / 64) * 64;
    const at = this.heap.reuseOrAlloc(size);
    if (at === undefined) return new Float32Array(length);
    const array = new Float32Array(this.heap.memory.buffer, at, length);
    this.floats.set(array, size);
    return array;
  }

  freeFloats(array: Float32Array): void {
    const size = this.floats.get(array);
    if (size === undefined || this.closed) return;
    this.floats.delete(array);
    this.heap.giveBack(array.byteOffset, size);
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
    this.finish(chunks, 'a matrix kernel');
  }

  /** Takes part in the posted job and returns when all its chunks are computed. */
  private finish(chunks: number, what: string): void {
    const c = this.control;
    runChunks(this.kernels, c, this.generation, 0);
    // Wait for the chunks that workers took; a worker that took none is not waited for.
    let done = Atomics.load(c, Slot.DONE);
    while (done !== chunks) done = awaitChange(c, Slot.DONE, done, CALLER_SPINS);
    if (Atomics.exchange(c, Slot.FAILED, 0) !== 0) throw new Error(`${what} failed in one of the pool threads`);
  }

  /** Regions of at least the given bytes, grown geometrically as those for products are. */
  private reserveAttention(bytes: Record<keyof AttentionScratch, number>): AttentionScratch {
    const had = this.attentionCapacity;
    const names = Object.keys(bytes) as (keyof AttentionScratch)[];
    if (this.attentionScratch !== undefined && had !== undefined && names.every((k) => bytes[k] <= had[k])) {
      return this.attentionScratch;
    }
    const capacity = { ...bytes };
    for (const k of names) capacity[k] = Math.max(bytes[k], 2 * (had?.[k] ?? 0));
    const regions = { ...capacity };
    for (const k of names) regions[k] = this.heap.alloc(capacity[k]);
    this.attentionCapacity = capacity;
    this.attentionScratch = regions;
    return regions;
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
