import type { Command } from 'commander';
import { parseIntegerOption } from '../cli-error.ts';
import type { ShardSpan } from '../../model/shards/span.ts';
import { parseEndpointOption, parseShardOption } from './node.ts';

export interface PreflightNodeOptions {
  advertise: string;
  key?: string;
  tlsCert?: string;
  tlsKey?: string;
  port?: number;
  host: string;
  registry?: string;
  shardsDir?: string;
  shard?: ShardSpan;
  shardIndex?: number;
}

export function registerPreflightCommand(program: Command): void {
  const preflight = program
    .command('preflight')
    .description("Check a role's setup before launching it, and say what to fix.");
  preflight
    .command('node')
    .description(
      "Check a compute node's key file and its mode, port, TLS files, registry reachability and shard hashes.",
    )
    .requiredOption('--advertise <endpoint>', 'HOST:PORT the node will advertise', parseEndpointOption('advertise'))
    .option(
      '--key <file>',
      'the node key file (default: where `tessera node` looks: node.key beside the shards dir, else ~/.config/tessera/node.key)',
    )
    .option('--tls-cert <file>', 'TLS certificate chain (PEM)')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option(
      '--port <port>',
      'port the node will listen on (default: the advertised port)',
      parseIntegerOption('port', 1, 65535),
    )
    .option('--host <address>', 'address the node will listen on', '127.0.0.1')
    .option('--registry <endpoint>', 'HOST:PORT of the registry', parseEndpointOption('registry'))
    .option('--shards-dir <dir>', 'the shards directory, to check the shard files against the manifest')
    .option(
      '--shard <K|A-B>',
      'the shards to check: shard K, or shards A to B, both included (default 0)',
      parseShardOption,
    )
    .option('--shard-index <k>', 'the older spelling of --shard K', parseIntegerOption('shard-index', 0))
    .action(async (options: PreflightNodeOptions) =>
      (await import('./preflight-action.ts')).preflightNodeCommand(options),
    );
}
