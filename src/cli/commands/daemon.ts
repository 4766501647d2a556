import type { Command } from 'commander';
import { DEFAULT_CHAIN_PARAMS } from '../../chain/params.ts';
import { parseIntegerOption } from '../cli-error.ts';
import { addMetricsOptions, type MetricsFlags } from '../metrics-options.ts';
import { DEFAULT_REGISTRY } from '../registry-option.ts';
import { parseEndpointOption } from './node.ts';

export const DEFAULT_DAEMON_PORT = 50070;

export interface DaemonCommandOptions extends MetricsFlags {
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
  epochSlots: number;
  finalityDepth: number;
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
      '--epoch-slots <n>',
      "slots per roster epoch: each epoch's leaders are drawn from the registry's signed roster of its daemons",
      parseIntegerOption('epoch-slots', 1),
      DEFAULT_CHAIN_PARAMS.epochSlots,
    )
    .option(
      '--finality-depth <n>',
      'blocks on top of a block before it is final: no reorganization reaches it, and only final blocks settle',
      parseIntegerOption('finality-depth', 1),
      DEFAULT_CHAIN_PARAMS.finalityDepth,
    )
    .option(
      '--verify-threads <n>',
      'worker threads that check signatures (default: the cores but one, at most 8)',
      parseIntegerOption('verify-threads', 0, 256),
    );
  addMetricsOptions(command, '--port + 1000').action(async (options: DaemonCommandOptions) =>
    (await import('./daemon-action.ts')).daemonCommand(options),
  );
}
