/**
 * The one logger: structured events, one JSON line each on stderr. Event names are lowercase
 * snake_case, subject first, then what happened in the past tense or a state (`session_opened`,
 * `block_produced`, `gossip_failed`, `metrics_listening`); test/layout/log-events.test.ts checks it.
 */
export type Logger = (event: string, fields?: Record<string, unknown>) => void;

export const EVENT_NAME = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;

/** One JSON line per event on `write` (stderr by default), stamped with time and role. */
export function jsonLogger(role: string, write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  return (event, fields = {}) =>
    write(`${JSON.stringify({ time: new Date().toISOString(), role, event, ...fields })}\n`);
}

/** For library use and tests that do not read the log. */
export const silentLogger: Logger = () => {};
