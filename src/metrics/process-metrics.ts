import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Metrics } from './metrics.ts';

/** How finely event-loop delay is sampled. */
const LOOP_RESOLUTION_MS = 10;

/**
 * What every role reports about its process, under the names Prometheus' own client libraries use:
 * resident memory, heap, CPU time, start time, and how late the event loop ran (a busy loop delays
 * every RPC the role serves).
 */
export function addProcessMetrics(metrics: Metrics): void {
  const startSeconds = Date.now() / 1000 - process.uptime();
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loop.enable();
  metrics.gauge({
    name: 'process_resident_memory_bytes',
    help: 'Resident memory size in bytes.',
    collect: (set) => set(process.memoryUsage.rss()),
  });
  metrics.gauge({
    name: 'nodejs_heap_used_bytes',
    help: 'JavaScript heap in use, in bytes.',
    collect: (set) => set(process.memoryUsage().heapUsed),
  });
  metrics.counter({
    name: 'process_cpu_seconds_total',
    help: 'User and system CPU time spent, in seconds.',
    collect: (set) => {
      const { user, system } = process.cpuUsage();
      set((user + system) / 1e6);
    },
  });
  metrics.gauge({
    name: 'process_start_time_seconds',
    help: 'Start time of the process since the unix epoch, in seconds.',
    collect: (set) => set(startSeconds),
  });
  metrics.gauge({
    name: 'nodejs_eventloop_lag_p99_seconds',
    help: 'The 99th percentile of event-loop delay since the previous scrape, in seconds.',
    collect: (set) => {
      // Nanoseconds, less the sampling interval itself; reset so each scrape sees its own interval.
      set(Math.max(0, loop.percentile(99) / 1e9 - LOOP_RESOLUTION_MS / 1000));
      loop.reset();
    },
  });
}
