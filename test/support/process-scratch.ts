import { after } from 'node:test';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What a test file that starts processes undoes when it ends. */
export interface ProcessScratch {
  /** A fresh directory under the system's temporary one. */
  readonly scratch: string;
  /** Processes to kill (SIGKILL) if still running. */
  readonly children: ChildProcess[];
  /** Run after the kills, last added first (servers, clients). */
  readonly cleanups: (() => unknown)[];
}

/** A scratch directory named `tessera-NAME-…`, and an `after` hook that kills, cleans up and removes it. */
export function processScratch(name: string): ProcessScratch {
  const scratch = mkdtempSync(join(tmpdir(), `tessera-${name}-`));
  const children: ChildProcess[] = [];
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const cleanup of cleanups.reverse()) await cleanup();
    rmSync(scratch, { recursive: true, force: true });
  });
  return { scratch, children, cleanups };
}
