import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { packagePath } from '../core/package-root.ts';

const TESSERA_BIN = packagePath('bin', 'tessera.js');

export interface RoleProcessOptions {
  /** `tessera` arguments, e.g. ['registry', '--port', '0', ...]. */
  readonly args: readonly string[];
  /** The structured log event (JSON line on stderr) that says the role is serving. */
  readonly startEvent: string;
  readonly startTimeoutMs?: number;
  /** Where the role's stderr goes (its log lines); default: kept only as a tail for error messages. */
  readonly logFile?: string;
  readonly name: string;
}

/** Last lines of a role's stderr, for the message when it fails. */
const TAIL_LINES = 20;

/**
 * A `tessera` role in its own process (its own process group, so a terminal's Ctrl-C reaches only
 * the parent, which then stops each child once, in order).
 */
export class RoleProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** The fields of the role's start event (endpoint, node id, ...). */
  started: Record<string, unknown> = {};
  /** The role's /metrics URL, once it logged `metrics_listening`. */
  metricsUrl?: string;
  /** Settles when the role logs its start event (or fails, exits or times out first). */
  readonly ready: Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly tail: string[] = [];
  private readonly log?: WriteStream;

  /** Starts the role. */
  constructor(options: RoleProcessOptions) {
    this.name = options.name;
    this.child = spawn(process.execPath, [TESSERA_BIN, ...options.args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    this.log = options.logFile === undefined ? undefined : createWriteStream(options.logFile, { flags: 'a' });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    const startTimeoutMs = options.startTimeoutMs ?? 60_000;
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.kill('SIGKILL');
        reject(new Error(`${this.name} did not start within ${startTimeoutMs} ms${this.tailText()}`));
      }, startTimeoutMs);
      createInterface({ input: this.child.stderr! }).on('line', (line) => {
        this.log?.write(`${line}\n`);
        this.tail.push(line);
        if (this.tail.length > TAIL_LINES) this.tail.shift();
        const event = parseEvent(line);
        if (event?.event === 'metrics_listening') this.metricsUrl = String(event.url);
        if (event?.event === options.startEvent) {
          this.started = event;
          clearTimeout(timer);
          resolve();
        }
      });
      this.child.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} could not be started: ${error.message}`));
      });
      void this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${signal ?? `code ${code}`}) before it started${this.tailText()}`));
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    const result = await this.exited;
    clearTimeout(timer);
    await new Promise<void>((resolve) => (this.log ? this.log.end(resolve) : resolve()));
    return result;
  }

  tailText(): string {
    return this.tail.length === 0 ? '' : `; its last log lines:\n${this.tail.join('\n')}`;
  }
}

function parseEvent(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
