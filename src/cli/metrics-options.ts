// The flags of a role's /metrics endpoint, apart from serve.ts so that help loads no metrics code.
import type { Command } from 'commander';
import { parseIntegerOption } from './cli-error.ts';

export interface MetricsFlags {
  metricsPort?: number;
  metricsHost: string;
}

/** --metrics-port and --metrics-host; `defaultText` says what the port defaults to. */
export function addMetricsOptions(command: Command, defaultText: string): Command {
  return command
    .option(
      '--metrics-port <port>',
      `port of the /metrics and /healthz endpoint (0: any free port; default: ${defaultText})`,
      parseIntegerOption('metrics-port', 0, 65535),
    )
    .option('--metrics-host <address>', 'address the /metrics and /healthz endpoint listens on', '127.0.0.1');
}
