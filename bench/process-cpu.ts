import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time a process has run so far, all its threads, in µs, from Linux's scheduler statistics
 * (nanoseconds, where /proc/PID/stat counts 10 ms ticks); undefined where there are none.
 */
export function processCpuUs(pid: number): number | undefined {
  try {
    let ns = 0;
    for (const task of readdirSync(`/proc/${pid}/task`))
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    return ns / 1000;
  } catch {
    return undefined;
  }
}

/** The CPU the processes `pids` have run together, in µs; undefined off Linux. */
export function processesCpuUs(pids: readonly number[]): number | undefined {
  const each = pids.map(processCpuUs);
  return each.every((us) => us !== undefined) ? each.reduce((sum, us) => sum! + us!, 0) : undefined;
}
