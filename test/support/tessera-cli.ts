// One `tessera` command as an operator runs it: its own process, its exit code and its output.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const TESSERA = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `tessera ARGS` to its exit; asynchronous, so the test's own servers and timers keep running. */
export function runTessera(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<CliRun> {
  const child = spawn(process.execPath, [TESSERA, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
