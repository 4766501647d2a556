import { Worker } from 'node:worker_threads';
import type { SignedCommitment } from '../audit/commitment.ts';
import type { SignatureJob, SignatureVerdict } from './signature-worker.ts';

/**
 * Verifies commitment signatures on a worker thread, in the order they were asked for. The worker
 * starts on first use and does not keep the process alive.
 */
export class SignatureChecker {
  private worker?: Worker;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (bad: number) => void; reject: (error: Error) => void }>();

  /** Resolves with the index of the first commitment not signed by the node it names, or -1. */
  check(commitments: readonly SignedCommitment[]): Promise<number> {
    const worker = this.start();
    const id = this.nextId++;
    const job: SignatureJob = {
      id,
      commitments: commitments.map((c) => ({ nodeId: c.nodeId, shardIndex: c.shardIndex, stepId: c.stepId, inputHash: c.inputHash, outputHash: c.outputHash, signature: c.signature })),
    };
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage(job);
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./signature-worker.js', import.meta.url));
    worker.on('message', (verdict: SignatureVerdict) => {
      this.waiting.get(verdict.id)?.resolve(verdict.bad);
      this.waiting.delete(verdict.id);
      if (this.waiting.size === 0) worker.unref();
    });
    const failAll = (error: Error) => {
      for (const waiter of this.waiting.values()) waiter.reject(error);
      this.waiting.clear();
      if (this.worker === worker) this.worker = undefined;
    };
    worker.on('error', (error) => failAll(new Error(`the signature checker failed: ${error.message}`)));
    worker.on('exit', (code) => failAll(new Error(`the signature checker exited (code ${code})`)));
    worker.unref();
    this.worker = worker;
    return worker;
  }
}
