/**
 * A pool thread of the WebAssembly backend: it instantiates the kernels on the shared memory and
 * then, for every job the calling thread posts in the control block, takes row chunks until none
 * are left and checks in. It never returns to its event loop until told to stop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { awaitChange, CONTROL_BYTES, instantiateKernels, runRows, Slot } from './wasm-kernels.ts';

export interface PoolWorkerData {
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  /** Byte address of the control block. */
  readonly control: number;
  readonly workers: number;
  readonly spins: number;
}

const data = workerData as PoolWorkerData;
const kernels = instantiateKernels(data.module, data.memory);
const control = new Int32Array(data.memory.buffer, data.control, CONTROL_BYTES / 4);
let generation = Atomics.load(control, Slot.GENERATION);
parentPort!.postMessage('ready');

for (;;) {
  generation = awaitChange(control, Slot.GENERATION, generation, data.spins);
  if (Atomics.load(control, Slot.STOP) !== 0) break;
  try {
    runRows(kernels, control);
  } catch {
    Atomics.store(control, Slot.FAILED, 1);
  }
  if (Atomics.add(control, Slot.DONE, 1) + 1 === data.workers) Atomics.notify(control, Slot.DONE);
}
