/**
 * What every long-running role's command shares: structured log lines, a /metrics and /healthz
 * endpoint, and a clean stop on SIGTERM/SIGINT.
 */

import { jsonLogger, type Logger } from '../core/log.ts';
import { Metrics } from '../metrics/metrics.ts';
import { startMetricsServer, unhealthy, type Health, type MetricsServer } from '../metrics/metrics-server.ts';
import { addProcessMetrics } from '../metrics/process-metrics.ts';
import { CliError } from './cli-error.ts';

/**
 * The first SIGTERM or SIGINT. Call it before the role starts: a signal that arrives during start-up
 * must not take the default action, which exits without unregistering or closing the database. A
 * second signal while the role is closing exits at once.
 */
export function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const first = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', first);
      process.off('SIGINT', first);
      const now = () => process.exit(130);
      process.once('SIGTERM', now);
      process.once('SIGINT', now);
      resolve(signal);
    };
    process.on('SIGTERM', first);
    process.on('SIGINT', first);
  });
}

/** Serves until `signal`, then closes the role; a failed close is logged and sets exit code 1. */
export async function closeOnSignal(
  signal: Promise<NodeJS.Signals>,
  close: () => Promise<void>,
  log: Logger,
): Promise<void> {
  log('signal', { signal: await signal });
  try {
    await close();
  } catch (error) {
    log('close_failed', { error: (error as Error).message });
    process.exitCode = 1;
  }
}

/** The metrics port beside a role's port: 1000 above it; any free port when that is 0 or past 65535. */
export function metricsPortBeside(rolePort: number): number {
  return rolePort === 0 || rolePort + 1000 > 65535 ? 0 : rolePort + 1000;
}

export interface RoleMetrics {
  readonly metrics: Metrics;
  readonly server: MetricsServer;
  /** Where /healthz looks once the role has started; until then it answers 503 "starting". */
  watch(health: () => Health): void;
}

/**
 * Starts the role's /metrics and /healthz endpoint before the role itself (so a slow start is
 * visible as "starting"), with the process metrics, and logs `metrics_listening` with its URLs.
 */
export async function serveRoleMetrics(role: string, host: string, port: number, log?: Logger): Promise<RoleMetrics> {
  const metrics = new Metrics();
  addProcessMetrics(metrics);
  let health: () => Health = () => unhealthy(`starting: the ${role} is not serving yet`);
  let server: MetricsServer;
  try {
    server = await startMetricsServer({ role, metrics, host, port, health: () => health() });
  } catch (error) {
    throw new CliError(`${(error as Error).message}; choose another --metrics-port (0: any free port)`);
  }
  log?.('metrics_listening', { url: `${server.url}/metrics`, healthz: `${server.url}/healthz` });
  return { metrics, server, watch: (roleHealth) => (health = roleHealth) };
}

/** What a role's start function is handed, and what it must give back. */
export interface RoleContext {
  readonly log: Logger;
  readonly metrics: Metrics;
}
export interface RunningRole {
  health(): Health;
  close(): Promise<void>;
}

/**
 * A long-running role from start to stop, as every role command runs one: the stop signal first,
 * then its /metrics endpoint (so a slow start shows as "starting"), then the role; a failed start is
 * one CLI error and leaves nothing listening; the first SIGTERM or SIGINT closes it.
 */
export async function serveRole(
  role: string,
  metricsAt: { readonly host: string; readonly port: number },
  start: (context: RoleContext) => Promise<RunningRole>,
): Promise<void> {
  const signal = stopSignal();
  const log = jsonLogger(role);
  const endpoint = await serveRoleMetrics(role, metricsAt.host, metricsAt.port, log);
  let handle: RunningRole;
  try {
    handle = await start({ log, metrics: endpoint.metrics });
  } catch (error) {
    await endpoint.server.close();
    throw new CliError((error as Error).message);
  }
  endpoint.watch(() => handle.health());
  await closeOnSignal(signal, () => handle.close().finally(() => endpoint.server.close()), log);
}
