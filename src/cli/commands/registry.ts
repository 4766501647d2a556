import type { Command } from 'commander';
import { ENDPOINT_PATTERN } from '../../registry/endpoint-pattern.ts';
import { CliError, parseIntegerOption } from '../cli-error.ts';
import { addMetricsOptions, type MetricsFlags } from '../metrics-options.ts';

export interface RegistryOptions extends MetricsFlags {
  port: number;
  host: string;
  clusterConfig: string;
  db: string;
  seed: string[];
  advertise?: string;
  escrowKey?: string;
  key?: string;
}

export function registerRegistryCommand(program: Command): void {
  const command = program
    .command('registry')
    .description('Run a registry: node admission, discovery, model manifests, and gossip with other registries.')
    .option('--port <port>', 'port to listen on (0: any free port)', parseIntegerOption('port', 0, 65535), 50050)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .requiredOption('--cluster-config <file>', 'the cluster config JSON (cluster id, models, pricing, stakes, limits)')
    .option('--db <file>', 'SQLite file that keeps nodes, nonces, manifests and peers across restarts', 'registry.db')
    .option(
      '--seed <endpoints>',
      'other registries to gossip with, HOST:PORT[,HOST:PORT...] (repeatable)',
      collectEndpoints,
      [],
    )
    .option(
      '--advertise <endpoint>',
      'HOST:PORT other registries and clients reach this one at (default: HOST:PORT)',
      parseEndpoint('advertise'),
    )
    .option(
      '--key <file>',
      "this registry's key (mode 0600): signs its identity in gossip; list its address in the cluster config's registryKeys",
    )
    .option(
      '--escrow-key <file>',
      "the escrow contract owner's key (mode 0600); required when the cluster config has an escrow section",
    );
  addMetricsOptions(command, '--port + 1000').action(async (options: RegistryOptions) =>
    (await import('./registry-action.ts')).runRegistry(options),
  );
}

function parseEndpoint(name: string) {
  return (value: string): string => {
    if (!ENDPOINT_PATTERN.test(value)) throw new CliError(`--${name} must be HOST:PORT, got "${value}"`, 2);
    return value;
  };
}

function collectEndpoints(value: string, previous: string[]): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .filter((s) => s !== '')
      .map(parseEndpoint('seed')),
  ];
}
