// `tessera node` as an operator starts it (its own process), with its structured log read as it
// comes: what the joining and churn tests wait on instead of sleeping.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const TESSERA = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));

export type NodeEvent = Record<string, unknown> & { event: string };

export interface NodeProcess {
  readonly child: ChildProcess;
  /** Every stderr line, JSON or not. */
  readonly lines: string[];
  readonly events: NodeEvent[];
  /** Its events up to the first node_started; rejects with its stderr if it exits first. */
  readonly started: Promise<NodeEvent[]>;
  readonly exited: Promise<number | null>;
  /** Resolves with the first event (seen or to come) that matches, or rejects after `timeoutMs`. */
  waitFor(match: (event: NodeEvent) => boolean, timeoutMs: number, what: string): Promise<NodeEvent>;
}

/**
 * The flags of an operator's `tessera node --registry … --model …` on this machine: free ports, the
 * key at `key`, one compute thread, a small KV cache and, unless `dataDir` is undefined, that
 * model directory.
 */
export function joinArgs(registry: string, modelId: string, key: string, dataDir: string | undefined): string[] {
  return [
    ...['--registry', registry, '--model', modelId, '--port', '0', '--metrics-port', '0', '--key', key],
    ...['--threads', '1', '--cache-mb', '16'],
    ...(dataDir === undefined ? [] : ['--data-dir', dataDir]),
  ];
}

/** Starts `tessera node ARGS`; `children` collects it, for the test's after() to kill what is left. */
export function spawnNodeProcess(
  args: readonly string[],
  children: ChildProcess[],
  env: NodeJS.ProcessEnv = process.env,
): NodeProcess {
  const child = spawn(process.execPath, [TESSERA, 'node', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env });
  children.push(child);
  const lines: string[] = [];
  const events: NodeEvent[] = [];
  const watchers = new Set<(event: NodeEvent) => void>();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  createInterface({ input: child.stderr! }).on('line', (line) => {
    lines.push(line);
    if (!line.startsWith('{')) return;
    const event = JSON.parse(line) as NodeEvent;
    events.push(event);
    for (const watch of [...watchers]) watch(event);
  });
  const waitFor = (match: (event: NodeEvent) => boolean, timeoutMs: number, what: string) =>
    new Promise<NodeEvent>((resolve, reject) => {
      const seen = events.find(match);
      if (seen !== undefined) return resolve(seen);
      const timer = setTimeout(() => {
        watchers.delete(watch);
        reject(new Error(`no ${what} within ${timeoutMs} ms:\n${lines.slice(-20).join('\n')}`));
      }, timeoutMs);
      const watch = (event: NodeEvent) => {
        if (!match(event)) return;
        clearTimeout(timer);
        watchers.delete(watch);
        resolve(event);
      };
      watchers.add(watch);
    });
  const started = new Promise<NodeEvent[]>((resolve, reject) => {
    const watch = (event: NodeEvent) => {
      if (event.event !== 'node_started') return;
      watchers.delete(watch);
      resolve(events);
    };
    watchers.add(watch);
    void exited.then((code) => reject(new Error(`tessera node exited with ${code}:\n${lines.join('\n')}`)));
  });
  started.catch(() => undefined);
  return { child, lines, events, started, exited, waitFor };
}
