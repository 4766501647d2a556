import { jsonLogger } from '../../core/log.ts';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { startDaemon } from '../../chain/daemon.ts';
import { RegistryMembership } from '../../chain/membership.ts';
import { DEFAULT_CHAIN_PARAMS } from '../../chain/params.ts';
import type { KeyPair } from '../../crypto/keys.ts';
import { roleKey } from '../role-key.ts';
import { CliError, parseIntegerOption } from '../cli-error.ts';
import { registryEnrollment } from '../daemon-enrollment.ts';
import { DEFAULT_REGISTRY } from '../registry-option.ts';
import { parseEndpointOption } from './node.ts';
import {
  addMetricsOptions,
  closeOnSignal,
  metricsPortBeside,
  serveRoleMetrics,
  stopSignal,
  type MetricsFlags,
} from '../serve.ts';

export const DEFAULT_DAEMON_PORT = 50070;

interface DaemonCommandOptions extends MetricsFlags {
  port: number;
  host: string;
  registry: string;
  membership?: string;
  db: string;
  key?: string;
  advertise?: string;
  peer: string[];
  blockIntervalMs: number;
  maxSharesPerBlock: number;
  windowBlocks: number;
  verifyThreads?: number;
}

export function registerDaemonCommand(program: Command): void {
  const command = program
    .command('daemon')
    .description(
      'Run a share-chain daemon: accepts signed compute shares, produces a block every slot it leads, gossips blocks with other daemons, and estimates fees.',
    )
    .option(
      '--port <port>',
      'port to listen on (0: any free port)',
      parseIntegerOption('port', 0, 65535),
      DEFAULT_DAEMON_PORT,
    )
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option(
      '--registry <endpoint>',
      'HOST:PORT of the registry to register with',
      parseEndpointOption('registry'),
      DEFAULT_REGISTRY,
    )
    .option(
      '--membership <endpoint>',
      'HOST:PORT serving the Membership service (default: the registry)',
      parseEndpointOption('membership'),
    )
    .option('--db <file>', 'SQLite file of the chain: blocks, accepted shares, receipts', 'chain.db')
    .option('--key <file>', 'the daemon key (mode 0600); default: daemon.key beside --db, created when missing')
    .option(
      '--advertise <endpoint>',
      'HOST:PORT nodes and other daemons reach this daemon at (default: HOST:PORT)',
      parseEndpointOption('advertise'),
    )
    .option(
      '--peer <endpoint>',
      'another daemon to gossip with, besides those the registry lists (repeatable)',
      (value: string, previous: string[]) => [...previous, parseEndpointOption('peer')(value)],
      [],
    )
    .option(
      '--block-interval-ms <ms>',
      'the slot length: one block per slot',
      parseIntegerOption('block-interval-ms', 10),
      DEFAULT_CHAIN_PARAMS.blockIntervalMs,
    )
    .option(
      '--max-shares-per-block <n>',
      "a block's capacity; the fee steers toward half of it",
      parseIntegerOption('max-shares-per-block', 2),
      DEFAULT_CHAIN_PARAMS.maxSharesPerBlock,
    )
    .option(
      '--window-blocks <n>',
      'blocks per settlement window',
      parseIntegerOption('window-blocks', 1),
      DEFAULT_CHAIN_PARAMS.windowBlocks,
    )
    .option(
      '--verify-threads <n>',
      'worker threads that check signatures (default: the cores but one, at most 8)',
      parseIntegerOption('verify-threads', 0, 256),
    );
  addMetricsOptions(command, '--port + 1000').action(async (options: DaemonCommandOptions) => daemonCommand(options));
}

/** --key, else daemon.key beside the database, created there on first start (said on stderr). */
function daemonKey(options: DaemonCommandOptions): KeyPair {
  return roleKey('daemon', options.key, [join(dirname(resolve(options.db)), 'daemon.key')]);
}

async function daemonCommand(options: DaemonCommandOptions): Promise<void> {
  const signal = stopSignal();
  const key = daemonKey(options);
  const log = jsonLogger('daemon');
  const endpoint = await serveRoleMetrics(
    'daemon',
    options.metricsHost,
    options.metricsPort ?? metricsPortBeside(options.port),
    log,
  );
  let handle;
  try {
    handle = await startDaemon({
      port: options.port,
      host: options.host,
      dbPath: resolve(options.db),
      membership: new RegistryMembership(options.membership ?? options.registry),
      enrollment: registryEnrollment(options.registry, key, log),
      key,
      peers: options.peer,
      params: {
        blockIntervalMs: options.blockIntervalMs,
        maxSharesPerBlock: options.maxSharesPerBlock,
        windowBlocks: options.windowBlocks,
      },
      log,
      ...(options.advertise === undefined ? {} : { advertise: options.advertise }),
      ...(options.verifyThreads === undefined ? {} : { verifyThreads: options.verifyThreads }),
      metrics: endpoint.metrics,
    });
  } catch (error) {
    await endpoint.server.close();
    throw new CliError((error as Error).message);
  }
  endpoint.watch(() => handle.health());
  await closeOnSignal(signal, () => handle.close().finally(() => endpoint.server.close()), log);
}
