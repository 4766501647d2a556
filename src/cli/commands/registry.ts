import { LedgerBackend } from '../../escrow/ledger-backend.ts';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ClusterConfigError, clusterConfigFromFile, ENDPOINT_PATTERN } from '../../registry/cluster-config.ts';
import { startRegistry } from '../../registry/registry.ts';
import { CliError, parseIntegerOption } from '../cli-error.ts';
import { closeOnSignal, roleLogger, stopSignal } from '../serve.ts';

interface RegistryOptions {
  port: number;
  host: string;
  clusterConfig: string;
  db: string;
  seed: string[];
  advertise?: string;
}

export function registerRegistryCommand(program: Command): void {
  program
    .command('registry')
    .description('Run a registry: node admission, discovery, model manifests, and gossip with other registries.')
    .option('--port <port>', 'port to listen on (0: any free port)', parseIntegerOption('port', 0, 65535), 50050)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .requiredOption('--cluster-config <file>', 'the cluster config JSON (cluster id, models, pricing, stakes, limits)')
    .option('--db <file>', 'SQLite file that keeps nodes, nonces, manifests and peers across restarts', 'registry.db')
    .option('--seed <endpoints>', 'other registries to gossip with, HOST:PORT[,HOST:PORT...] (repeatable)', collectEndpoints, [])
    .option('--advertise <endpoint>', 'HOST:PORT other registries and clients reach this one at (default: HOST:PORT)', parseEndpoint('advertise'))
    .action(async (options: RegistryOptions) => runRegistry(options));
}

async function runRegistry(options: RegistryOptions): Promise<void> {
  const signal = stopSignal();
  let clusterConfig;
  try {
    clusterConfig = clusterConfigFromFile(options.clusterConfig);
  } catch (error) {
    if (error instanceof ClusterConfigError) throw new CliError(error.message, 2);
    throw error;
  }
  const log = roleLogger('registry');
  // Stakes, slashes and settlements live in the registry's own file (tables prefixed ledger_).
  const ledger = new LedgerBackend({ path: resolve(options.db) });
  const handle = await startRegistry({
    port: options.port,
    host: options.host,
    dbPath: resolve(options.db),
    clusterConfig,
    seeds: options.seed,
    log,
    settlement: ledger,
    stakes: ledger,
    settle: { backend: ledger },
    ...(options.advertise === undefined ? {} : { advertise: options.advertise }),
  });
  await closeOnSignal(signal, () => handle.close().then(() => ledger.close()), log);
}

function parseEndpoint(name: string) {
  return (value: string): string => {
    if (!ENDPOINT_PATTERN.test(value)) throw new CliError(`--${name} must be HOST:PORT, got "${value}"`, 2);
    return value;
  };
}

function collectEndpoints(value: string, previous: string[]): string[] {
  return [...previous, ...value.split(',').filter((s) => s !== '').map(parseEndpoint('seed'))];
}
