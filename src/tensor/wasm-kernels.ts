/**
 * The compiled WebAssembly kernels (src/tensor/wasm/kernels.ts) as seen from JavaScript, and the
 * job protocol that the calling thread and the pool's workers share: one control block of int32
 * in shared memory describes the current job (a matrix product or an attention), and every thread
 * takes chunks of it (rows of a product; a head and a block of query rows of an attention) until
 * none are left.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { packagePath } from '../core/package-root.ts';
import { GgmlType, ggmlTypeName } from './ggml-type.ts';

/** (w, cols, r0, r1, nTok, x, xd, out, rows); see the header of wasm/kernels.ts. */
export type MatmulKernel = (
  w: number,
  cols: number,
  r0: number,
  r1: number,
  nTok: number,
  x: number,
  xd: number,
  out: number,
  rows: number,
) => void;

export interface KernelExports {
  /** First address the kernels leave to the backend (below it: their f16 table). */
  heapBase: WebAssembly.Global;
  initHalfTable(): void;
  /** withSums: 0 or 1. */
  quantizeActivations(
    x: number,
    cols: number,
    nTok: number,
    block: number,
    qs: number,
    ds: number,
    withSums: number,
  ): void;
  matmulF32: MatmulKernel;
  matmulF16: MatmulKernel;
  matmulBF16: MatmulKernel;
  matmulQ8_0: MatmulKernel;
  matmulQ4_0: MatmulKernel;
  matmulQ4_K: MatmulKernel;
  matmulQ6_K: MatmulKernel;
  /** Softmax sums over f32 values at x, n a multiple of 16; see their section in wasm/kernels.ts. */
  maxF32(x: number, n: number): number;
  firstIndexF32(x: number, n: number, v: number): number;
  sumExpF32(x: number, n: number, m: number): number;
  expWeightsF32(x: number, n: number, m: number, s: number, floor: number, out: number): number;
  sumAtLeastF32(x: number, w: number, n: number, t: number): number;
  zeroBelowF32(x: number, w: number, n: number, t: number): void;
  countAtLeastF32(x: number, n: number, t: number): number;
  indicesAtLeastF32(x: number, n: number, t: number, out: number): number;
  /** gate[i] = silu(gate[i]) · up[i] over f32 values, in place; see swigluF32 in wasm/kernels.ts. */
  swigluF32(gate: number, up: number, n: number): void;
  /** Query heads h .. h + hCount - 1 for query rows [t0, t1); see attentionHead in wasm/kernels.ts. */
  attentionHead(
    q: number,
    keys: number,
    values: number,
    out: number,
    scratch: number,
    heads: number,
    kvHeads: number,
    headDim: number,
    startPos: number,
    n: number,
    h: number,
    hCount: number,
    t0: number,
    t1: number,
  ): void;
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
 * ones read int16 activations with one scale per `block` (and, for Q4_0 and Q4_K, per-32 sums).
 */
export function activationBlock(type: GgmlType): 0 | 32 | 256 {
  switch (type) {
    case GgmlType.F32:
    case GgmlType.F16:
    case GgmlType.BF16:
      return 0;
    case GgmlType.Q8_0:
    case GgmlType.Q4_0:
      return 32;
    case GgmlType.Q4_K:
    case GgmlType.Q6_K:
      return 256;
  }
}

export function needsActivationSums(type: GgmlType): boolean {
  return type === GgmlType.Q4_K || type === GgmlType.Q4_0;
}

/**
 * Room for the scale records of nTok tokens of `cols` activations, for any block size: one record
 * per block and group of four tokens, 32 bytes per 32-block and 80 per 256-block (see
 * quantizeActivations in wasm/kernels.ts), so at most one byte per 4 activations of the group.
 */
export function scaleRecordBytes(cols: number, nTok: number): number {
  return Math.ceil(nTok / 4) * cols;
}

// Not compiled into dist/: the build reads the kernels from src/ (npm run build:wasm writes them there).
const WASM_PATH = pathToFileURL(packagePath('src', 'tensor', 'wasm', 'build', 'kernels.wasm'));

function missingKernels(cause: unknown): Error {
  return new Error(`missing ${WASM_PATH.pathname}: run \`npm run build:wasm\``, { cause });
}

export async function compileKernels(): Promise<WebAssembly.Module> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(await readFile(WASM_PATH));
  } catch (cause) {
    throw missingKernels(cause);
  }
  return WebAssembly.compile(bytes);
}

/** For callers that cannot wait: a few milliseconds, once. */
export function compileKernelsSync(): WebAssembly.Module {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(readFileSync(WASM_PATH));
  } catch (cause) {
    throw missingKernels(cause);
  }
  return new WebAssembly.Module(bytes);
}

export function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return instance.exports as unknown as KernelExports;
}

/** A matrix product, as the kernels take it (addresses are byte offsets in the shared memory). */
export interface Job {
  readonly type: GgmlType;
  readonly w: number;
  readonly cols: number;
  readonly rows: number;
  readonly nTokens: number;
  readonly x: number;
  readonly xd: number;
  readonly out: number;
}

/**
 * An attention, as the kernels take it: q and out [n × heads × headDim] f32, keys of startPos + n
 * positions in quads (key-quads.ts), values as cached; each thread's scratch at scratch +
 * thread · scratchStride. Chunk c is unit c mod units (one query head, or two of one key/value head:
 * headsPerUnit) over a block of `block` query rows, the last blocks (which see the most positions)
 * first, so the longest chunks do not come last.
 */
export interface AttentionJob {
  readonly q: number;
  readonly keys: number;
  readonly values: number;
  readonly out: number;
  readonly scratch: number;
  readonly scratchStride: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly startPos: number;
  readonly n: number;
  readonly block: number;
}

/**
 * Scratch bytes one thread needs for an attention over `visible` positions: two rows of scores,
 * each with room for a whole last quad of positions.
 */
export function attentionScratchBytes(visible: number): number {
  return Math.ceil((8 * (visible + 4)) / 64) * 64;
}

/**
 * Query heads a chunk takes: in a decode step (one row), two heads of one key/value head, which
 * then share each key and value load; in a prefill, one (its rows share them instead).
 */
function headsPerUnit(job: AttentionJob): number {
  return job.n === 1 && job.heads / job.kvHeads >= 2 ? 2 : 1;
}

function unitsOf(job: AttentionJob): number {
  return job.kvHeads * Math.ceil(job.heads / job.kvHeads / headsPerUnit(job));
}

export function attentionChunks(job: AttentionJob): number {
  return unitsOf(job) * Math.ceil(job.n / job.block);
}

export function runAttentionChunk(kernels: KernelExports, job: AttentionJob, chunk: number, thread: number): void {
  const blocks = Math.ceil(job.n / job.block);
  const units = unitsOf(job);
  const t0 = (blocks - 1 - Math.floor(chunk / units)) * job.block;
  const group = job.heads / job.kvHeads;
  const perUnit = headsPerUnit(job);
  const unitsPerGroup = Math.ceil(group / perUnit);
  const unit = chunk % units;
  const first = Math.floor(unit / unitsPerGroup) * group + (unit % unitsPerGroup) * perUnit;
  kernels.attentionHead(
    job.q,
    job.keys,
    job.values,
    job.out,
    job.scratch + thread * job.scratchStride,
    job.heads,
    job.kvHeads,
    job.headDim,
    job.startPos,
    job.n,
    first,
    Math.min(perUnit, group - (unit % unitsPerGroup) * perUnit),
    t0,
    Math.min(job.n, t0 + job.block),
  );
}

export function kernelFor(kernels: KernelExports, type: GgmlType): MatmulKernel {
  const kernel = kernels[KERNEL_NAMES[type]] as MatmulKernel | undefined;
  if (kernel === undefined) throw new Error(`no kernel for ${ggmlTypeName(type)}`);
  return kernel;
}

export function runJobRows(kernel: MatmulKernel, job: Job, r0: number, r1: number): void {
  kernel(job.w, job.cols, r0, r1, job.nTokens, job.x, job.xd, job.out, job.rows);
}

/**
 * Int32 slots of the control block. Addresses are stored as int32 bit patterns.
 *
 * Protocol: the caller closes CLAIM (new tag, no chunks), writes the job, reopens CLAIM at chunk 0
 * and bumps GENERATION. Any thread takes chunk k by compare-exchanging CLAIM from (tag, k) to
 * (tag, k+1), so a worker that wakes late, holding an old tag, can never take part of a newer
 * job, and the caller waits only for the chunks that were taken (DONE), never for a worker
 * that did not wake in time.
 */
export const Slot = {
  /** Bumped once per parallel job (and for shutdown); idle workers wait on it. */
  GENERATION: 0,
  /** (generation tag << CHUNK_BITS) | next chunk index. */
  CLAIM: 1,
  /** Chunks finished; the caller waits on it. */
  DONE: 2,
  CHUNKS: 3,
  /** Rows per chunk. */
  CHUNK_ROWS: 4,
  TYPE: 5,
  W: 6,
  COLS: 7,
  ROWS: 8,
  TOKENS: 9,
  X: 10,
  XD: 11,
  OUT: 12,
  /** Set by a thread whose kernel threw. */
  FAILED: 13,
  STOP: 14,
  /** JobKind of the current job; the slots after it describe an attention. */
  KIND: 15,
  Q: 16,
  KEYS: 17,
  VALUES: 18,
  ATTENDED: 19,
  SCRATCH: 20,
  SCRATCH_STRIDE: 21,
  HEADS: 22,
  KV_HEADS: 23,
  HEAD_DIM: 24,
  START_POS: 25,
  N: 26,
  BLOCK: 27,
} as const;
export const CONTROL_BYTES = 128;

const JobKind = { MATMUL: 0, ATTENTION: 1 } as const;
const CHUNK_BITS = 12;
/** Low CHUNK_BITS of CLAIM: the chunk index; all ones marks a job being written. */
export const MAX_CHUNKS = (1 << CHUNK_BITS) - 1;

function claimTag(generation: number): number {
  return (generation << CHUNK_BITS) | 0;
}

function readJob(control: Int32Array): Job {
  return {
    type: Atomics.load(control, Slot.TYPE) as GgmlType,
    w: Atomics.load(control, Slot.W),
    cols: Atomics.load(control, Slot.COLS),
    rows: Atomics.load(control, Slot.ROWS),
    nTokens: Atomics.load(control, Slot.TOKENS),
    x: Atomics.load(control, Slot.X),
    xd: Atomics.load(control, Slot.XD),
    out: Atomics.load(control, Slot.OUT),
  };
}

function readAttentionJob(control: Int32Array): AttentionJob {
  return {
    q: Atomics.load(control, Slot.Q),
    keys: Atomics.load(control, Slot.KEYS),
    values: Atomics.load(control, Slot.VALUES),
    out: Atomics.load(control, Slot.ATTENDED),
    scratch: Atomics.load(control, Slot.SCRATCH),
    scratchStride: Atomics.load(control, Slot.SCRATCH_STRIDE),
    heads: Atomics.load(control, Slot.HEADS),
    kvHeads: Atomics.load(control, Slot.KV_HEADS),
    headDim: Atomics.load(control, Slot.HEAD_DIM),
    startPos: Atomics.load(control, Slot.START_POS),
    n: Atomics.load(control, Slot.N),
    block: Atomics.load(control, Slot.BLOCK),
  };
}

/** Closes CLAIM to a new tag, so nothing can be taken while the job is written. */
function closeClaim(control: Int32Array, generation: number, kind: number): number {
  const tag = claimTag(generation);
  Atomics.store(control, Slot.CLAIM, tag | MAX_CHUNKS);
  Atomics.store(control, Slot.KIND, kind);
  return tag;
}

/** Opens the written job's chunks and wakes the pool. */
function openClaim(control: Int32Array, generation: number, tag: number, chunks: number): void {
  Atomics.store(control, Slot.CHUNKS, chunks);
  Atomics.store(control, Slot.DONE, 0);
  Atomics.store(control, Slot.CLAIM, tag);
  Atomics.store(control, Slot.GENERATION, generation);
  Atomics.notify(control, Slot.GENERATION);
}

/** Publishes `job` to the pool as generation `generation`, split into attentionChunks(job) chunks. */
export function postAttentionJob(control: Int32Array, generation: number, job: AttentionJob): void {
  const tag = closeClaim(control, generation, JobKind.ATTENTION);
  Atomics.store(control, Slot.Q, job.q);
  Atomics.store(control, Slot.KEYS, job.keys);
  Atomics.store(control, Slot.VALUES, job.values);
  Atomics.store(control, Slot.ATTENDED, job.out);
  Atomics.store(control, Slot.SCRATCH, job.scratch);
  Atomics.store(control, Slot.SCRATCH_STRIDE, job.scratchStride);
  Atomics.store(control, Slot.HEADS, job.heads);
  Atomics.store(control, Slot.KV_HEADS, job.kvHeads);
  Atomics.store(control, Slot.HEAD_DIM, job.headDim);
  Atomics.store(control, Slot.START_POS, job.startPos);
  Atomics.store(control, Slot.N, job.n);
  Atomics.store(control, Slot.BLOCK, job.block);
  openClaim(control, generation, tag, attentionChunks(job));
}

/** Publishes `job` to the pool as generation `generation`, split into `chunks` chunks. */
export function postJob(control: Int32Array, generation: number, job: Job, chunks: number, chunkRows: number): void {
  const tag = closeClaim(control, generation, JobKind.MATMUL);
  Atomics.store(control, Slot.TYPE, job.type);
  Atomics.store(control, Slot.W, job.w);
  Atomics.store(control, Slot.COLS, job.cols);
  Atomics.store(control, Slot.ROWS, job.rows);
  Atomics.store(control, Slot.TOKENS, job.nTokens);
  Atomics.store(control, Slot.X, job.x);
  Atomics.store(control, Slot.XD, job.xd);
  Atomics.store(control, Slot.OUT, job.out);
  Atomics.store(control, Slot.CHUNK_ROWS, chunkRows);
  openClaim(control, generation, tag, chunks);
}

/**
 * Takes and computes chunks of job `generation` until none are left (or a newer job began);
 * `thread` (0 for the calling thread, 1.. for workers) picks this thread's attention scratch.
 */
export function runChunks(kernels: KernelExports, control: Int32Array, generation: number, thread: number): void {
  const tag = claimTag(generation);
  let run: ((chunk: number) => void) | undefined;
  for (;;) {
    const claim = Atomics.load(control, Slot.CLAIM);
    if ((claim & ~MAX_CHUNKS) !== tag) return;
    const index = claim & MAX_CHUNKS;
    const chunks = Atomics.load(control, Slot.CHUNKS);
    if (index >= chunks) return;
    if (Atomics.compareExchange(control, Slot.CLAIM, claim, claim + 1) !== claim) continue;
    try {
      // Holding an unfinished chunk of this job, the caller cannot have moved on: the job is intact.
      run ??= chunkRunner(kernels, control, thread);
      run(index);
    } catch {
      Atomics.store(control, Slot.FAILED, 1);
    }
    if (Atomics.add(control, Slot.DONE, 1) + 1 === chunks) Atomics.notify(control, Slot.DONE);
  }
}

/** Computes one chunk of the posted job, read once from the control block. */
function chunkRunner(kernels: KernelExports, control: Int32Array, thread: number): (chunk: number) => void {
  if (Atomics.load(control, Slot.KIND) === JobKind.ATTENTION) {
    const job = readAttentionJob(control);
    return (chunk) => runAttentionChunk(kernels, job, chunk, thread);
  }
  const job = readJob(control);
  const kernel = kernelFor(kernels, job.type);
  const chunkRows = Atomics.load(control, Slot.CHUNK_ROWS);
  return (chunk) => runJobRows(kernel, job, chunk * chunkRows, Math.min((chunk + 1) * chunkRows, job.rows));
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
