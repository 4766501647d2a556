/**
 * A pool thread of the WebAssembly backend: it instantiates the kernels on the shared memory and
 * then, for every job the calling thread posts in the control block, takes row chunks until none
 * are left. It never returns to its event loop until told to stop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { awaitChange, CONTROL_BYTES, instantiateKernels, runChunks, Slot } from './wasm-kernels.ts';

export interface PoolWorkerData {
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  /** Byte address of the control block. */
  readonly control: number;
  /** Spin iterations before an idle worker sleeps. */
  readonly spins: number;
  /** This worker's index in the pool, from 1 (the calling thread is 0): its scratch slot. */
  readonly thread: number;
}

const data = workerData as PoolWorkerData;
const kernels = instantiateKernels(data.module, data.memory);
const control = new Int32Array(data.memory.buffer, data.control, CONTROL_BYTES / 4);
let generation = Atomics.load(control, Slot.GENERATION);
parentPort!.postMessage('ready');

for (;;) {
  generation = awaitChange(control, Slot.GENERATION, generation, data.spins);
  if (Atomics.load(control, Slot.STOP) !== 0) break;
  runChunks(kernels, control, generation, data.thread);
}
