import { Worker } from 'node:worker_threads';
import { recoverSigner } from '../crypto/signature.ts';

/** A signed record to check against the address whose key should have signed it. */
export interface RecordCheck {
  readonly domain: string;
  /** The signed message: a receipt's payload, a statement's hash. */
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
  readonly signer: string;
}

export interface RecordCheckJob {
  readonly id: number;
  readonly checks: readonly RecordCheck[];
}

/**
 * One answer per check: 1 when it holds. Recovering the signer, not only verifying against its key,
 * also holds the recovery byte to account: a signature whose recovery byte is wrong would verify here
 * yet name another signer to everyone who recovers it (the registry's settlement check does).
 */
export function checkRecords(checks: readonly RecordCheck[]): Uint8Array {
  return Uint8Array.from(checks, (c) => (recoverSigner(c.domain, c.payload, c.signature) === c.signer ? 1 : 0));
}

/** Below this many checks a batch is not split further: a message to a worker costs about as much as a few checks. */
const MIN_CHUNK = 64;

interface Lane {
  worker: Worker;
  outstanding: number;
}

/**
 * Signature checking on worker threads (about 60 µs a signature): a batch's statement and its new
 * receipts, or a peer block's statements and receipts (thousands, for a block of short sessions). A
 * large set is split across the workers. With 0 threads it checks inline.
 */
export class SignaturePool {
  readonly #threads: number;
  readonly #lanes: Lane[] = [];
  readonly #waiting = new Map<
    number,
    { lane: Lane; size: number; resolve: (ok: Uint8Array) => void; reject: (error: Error) => void }
  >();
  #nextId = 0;
  #closed = false;

  constructor(threads: number) {
    this.#threads = threads;
    // Loading a worker's modules takes about half a second of CPU: pay it at start, not during the first batch.
    this.#start();
  }

  async verify(checks: readonly RecordCheck[]): Promise<boolean[]> {
    if (checks.length === 0) return [];
    if (this.#closed) throw new Error('the signature pool is closed');
    if (this.#threads === 0) return Array.from(checkRecords(checks), (b) => b === 1);
    const lanes = this.#start();
    const chunk = Math.max(MIN_CHUNK, Math.ceil(checks.length / lanes.length));
    const parts: Promise<Uint8Array>[] = [];
    for (let start = 0; start < checks.length; start += chunk)
      parts.push(this.#send(checks.slice(start, start + chunk)));
    const answers = await Promise.all(parts);
    return answers.flatMap((ok) => Array.from(ok, (b) => b === 1));
  }

  async close(): Promise<void> {
    this.#closed = true;
    const lanes = this.#lanes.splice(0);
    await Promise.all(lanes.map((lane) => lane.worker.terminate()));
  }

  #send(checks: RecordCheck[]): Promise<Uint8Array> {
    const lane = this.#lanes.reduce((best, l) => (l.outstanding < best.outstanding ? l : best));
    const id = this.#nextId++;
    lane.outstanding += checks.length;
    lane.worker.ref();
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { lane, size: checks.length, resolve, reject });
      // Payloads arrive as views into a whole gRPC message, and posting a view copies the buffer it
      // views: post copies of just the bytes.
      const compact = checks.map((c) => ({
        ...c,
        payload: new Uint8Array(c.payload),
        signature: new Uint8Array(c.signature),
      }));
      lane.worker.postMessage({ id, checks: compact } satisfies RecordCheckJob);
    });
  }

  #start(): Lane[] {
    while (this.#lanes.length < this.#threads) {
      const worker = new Worker(new URL('./signature-worker.js', import.meta.url));
      const lane: Lane = { worker, outstanding: 0 };
      worker.on('message', ({ id, ok }: { id: number; ok: Uint8Array }) => {
        const waiter = this.#waiting.get(id);
        if (waiter === undefined) return;
        this.#waiting.delete(id);
        lane.outstanding -= waiter.size;
        if (lane.outstanding === 0) worker.unref();
        waiter.resolve(ok);
      });
      const fail = (error: Error) => {
        const index = this.#lanes.indexOf(lane);
        if (index >= 0) this.#lanes.splice(index, 1);
        for (const [id, waiter] of this.#waiting) {
          if (waiter.lane !== lane) continue;
          this.#waiting.delete(id);
          waiter.reject(error);
        }
      };
      worker.on('error', (error) => fail(new Error(`a signature worker failed: ${error.message}`)));
      worker.on('exit', (code) => fail(new Error(`a signature worker exited (code ${code})`)));
      worker.unref();
      this.#lanes.push(lane);
    }
    return this.#lanes;
  }
}
