// Recomputes fraud-proof tickets off the registry's event loop (src/audit/recompute-pool.ts).
import { dirname } from 'node:path';
import { parentPort } from 'node:worker_threads';
import { parseManifest } from '../model/manifest.ts';
import { AuditError } from '../protocol/ticket.ts';
import type { Backend } from '../tensor/backend.ts';
import { createWasmBackend } from '../tensor/wasm-backend.ts';
import { recomputeOutputHash, ShardEngines } from './recompute.ts';
import type { RecomputeJob, RecomputeAnswer } from './recompute-pool.ts';

let backend: Promise<Backend> | undefined;
// One set of engines per manifest: a span's weights are read and hash-checked once per worker.
const engines = new Map<string, ShardEngines>();

async function recompute(job: RecomputeJob): Promise<RecomputeAnswer> {
  try {
    backend ??= createWasmBackend({ threads: 1 });
    let shards = engines.get(job.manifestPath);
    if (!shards) {
      const manifest = parseManifest(job.manifestJson, job.manifestPath);
      shards = new ShardEngines([{ manifest, dir: dirname(job.manifestPath) }], await backend);
      engines.set(job.manifestPath, shards);
    }
    const hash = recomputeOutputHash(shards.engine(job.modelId, job.span), job.input);
    return { id: job.id, hash: new Uint8Array(hash) };
  } catch (error) {
    return {
      id: job.id,
      error: {
        message: (error as Error).message,
        ...(error instanceof AuditError ? { auditStatus: error.grpcStatus, reason: error.code } : {}),
      },
    };
  }
}

parentPort!.on('message', (job: RecomputeJob) => {
  void recompute(job).then((answer) => parentPort!.postMessage(answer));
});
