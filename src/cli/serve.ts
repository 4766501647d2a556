/** What every long-running role's command shares: structured log lines and a clean stop on SIGTERM/SIGINT. */

export type RoleLog = (event: string, fields?: Record<string, unknown>) => void;

/** One JSON line per event on stderr. */
export function roleLogger(role: string): RoleLog {
  return (event, fields = {}) => process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), role, event, ...fields })}\n`);
}

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
export async function closeOnSignal(signal: Promise<NodeJS.Signals>, close: () => Promise<void>, log: RoleLog): Promise<void> {
  log('signal', { signal: await signal });
  try {
    await close();
  } catch (error) {
    log('close_failed', { error: (error as Error).message });
    process.exitCode = 1;
  }
}
