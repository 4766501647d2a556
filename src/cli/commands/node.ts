import type { Command } from 'commander';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { NODE_DEFAULTS } from '../../node/node-defaults.ts';
import type { TlsFiles } from '../../node/endpoint-security.ts';
import { CliError, parseIntegerOption } from '../cli-error.ts';
import { DEFAULT_THREADS } from '../default-threads.ts';
import { addMetricsOptions, type MetricsFlags } from '../metrics-options.ts';

export interface NodeCommandOptions extends MetricsFlags {
  shardIndex: number;
  shardsDir: string;
  registry?: string;
  daemon?: string;
  port: number;
  host: string;
  key?: string;
  advertise?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  threads: number;
  maxSessions: number;
  maxSessionsPerClient?: number;
  maxSessionsPerPeer?: number;
  cacheMb: number;
  idleTimeout: number;
  price: number;
  region: string;
  dataDir?: string;
}

export const DEFAULT_NODE_PORT = 50052;

export function parseEndpointOption(name: string) {
  return (value: string): string => {
    if (!/^(\[[^\]\s]+\]|[^\s:/[\]]+):\d{1,5}$/.test(value))
      throw new CliError(`--${name} must be HOST:PORT, got "${value}"`, 2);
    return value;
  };
}

/** --tls-cert and --tls-key go together. */
export function tlsFilesOption(cert: string | undefined, key: string | undefined): TlsFiles | undefined {
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) throw new CliError('--tls-cert and --tls-key go together: pass both', 2);
  return { cert, key };
}

export function registerNodeCommand(program: Command): void {
  const command = program
    .command('node')
    .description(
      'Serve one shard of a model: checks the shard against its manifest, registers with the registry and answers Forward sessions.',
    )
    .requiredOption('--shard-index <k>', 'which shard to serve', parseIntegerOption('shard-index', 0))
    .requiredOption('--shards-dir <dir>', 'the directory `tessera shard` wrote (manifest.json and the shard files)')
    .option('--registry <endpoint>', 'HOST:PORT of the registry to register with', parseEndpointOption('registry'))
    .option(
      '--daemon <endpoint>',
      'HOST:PORT of the share-chain daemon to send compute shares to',
      parseEndpointOption('daemon'),
    )
    .option(
      '--port <port>',
      'port to listen on (0: any free port)',
      parseIntegerOption('port', 0, 65535),
      DEFAULT_NODE_PORT,
    )
    .option('--host <address>', 'address to listen on', NODE_DEFAULTS.host)
    .option(
      '--key <file>',
      'the node key (mode 0600); default: node.key beside the shards dir, else ~/.config/tessera/node.key',
    )
    .option(
      '--advertise <endpoint>',
      'HOST:PORT clients and other nodes reach this node at (default: HOST:PORT)',
      parseEndpointOption('advertise'),
    )
    .option('--tls-cert <file>', 'TLS certificate chain (PEM); required with a non-loopback --advertise')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option('--tls-ca <file>', 'CA bundle (PEM) that signs the TLS certificates of next hops (default: the system CAs)')
    .option('--threads <n>', 'compute threads', parseIntegerOption('threads', 1, 256), DEFAULT_THREADS)
    .option(
      '--max-sessions <n>',
      'most sessions served at once',
      parseIntegerOption('max-sessions', 1),
      NODE_DEFAULTS.maxSessions,
    )
    .option(
      '--max-sessions-per-client <n>',
      'most sessions one client key may hold (default: a quarter of --max-sessions)',
      parseIntegerOption('max-sessions-per-client', 1),
    )
    .option(
      '--max-sessions-per-peer <n>',
      'most sessions one address may hold, previous hops excepted (default: half of --max-sessions)',
      parseIntegerOption('max-sessions-per-peer', 1),
    )
    .option(
      '--cache-mb <n>',
      'KV-cache memory for all sessions, in MiB',
      parseIntegerOption('cache-mb', 1),
      NODE_DEFAULTS.cacheBytes / 2 ** 20,
    )
    .option(
      '--idle-timeout <seconds>',
      'evict a session unused this long',
      parseIntegerOption('idle-timeout', 1),
      NODE_DEFAULTS.idleTimeoutMs / 1000,
    )
    .option('--price <n>', "price per 1000 tokens, in the cluster's smallest unit", parseIntegerOption('price', 0), 0)
    .option('--region <name>', 'coarse region announced to the registry', '')
    .option(
      '--data-dir <dir>',
      'where the node keeps the audit steps it may owe and its unsent shares, across restarts (default: memory only)',
    );
  addMetricsOptions(command, '--port + 1000').action(async (options: NodeCommandOptions) =>
    (await import('./node-action.ts')).nodeCommand(options),
  );
}

/** Where a node looks for its key without --key: beside the shards dir, then the user's config directory. */
export function defaultKeyPaths(shardsDir: string | undefined): string[] {
  const config = join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'tessera', 'node.key');
  return shardsDir === undefined ? [config] : [join(dirname(resolve(shardsDir)), 'node.key'), config];
}
