// Checks share-batch statement and receipt signatures off the daemon's main thread.
import { parentPort } from 'node:worker_threads';
import { checkRecords, type RecordCheckJob } from './signature-pool.ts';

parentPort!.on('message', (job: RecordCheckJob) => {
  parentPort!.postMessage({ id: job.id, ok: checkRecords(job.checks) });
});
