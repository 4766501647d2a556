import type { Command } from 'commander';
import { preflightNode } from '../../node/preflight.ts';
import { CliError, parseIntegerOption } from '../cli-error.ts';
import { existsSync } from 'node:fs';
import { defaultKeyPaths, parseEndpointOption, tlsFilesOption } from './node.ts';

interface PreflightNodeOptions {
  advertise: string;
  key?: string;
  tlsCert?: string;
  tlsKey?: string;
  port?: number;
  host: string;
  registry?: string;
  shardsDir?: string;
  shardIndex: number;
}

export function registerPreflightCommand(program: Command): void {
  const preflight = program
    .command('preflight')
    .description("Check a role's setup before launching it, and say what to fix.");
  preflight
    .command('node')
    .description("Check a compute node's key file and its mode, port, TLS files, registry reachability and shard hash.")
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
    .option('--shards-dir <dir>', 'the shards directory, to check the shard file against the manifest')
    .option('--shard-index <k>', 'the shard to check', parseIntegerOption('shard-index', 0), 0)
    .action(async (options: PreflightNodeOptions) => preflightNodeCommand(options));
}

async function preflightNodeCommand(options: PreflightNodeOptions): Promise<void> {
  const tls = tlsFilesOption(options.tlsCert, options.tlsKey);
  const candidates = defaultKeyPaths(options.shardsDir);
  const keyPath = options.key ?? candidates.find((path) => existsSync(path)) ?? candidates[candidates.length - 1]!;
  const checks = await preflightNode({
    advertise: options.advertise,
    keyPath,
    host: options.host,
    shardIndex: options.shardIndex,
    ...(tls === undefined ? {} : { tls }),
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.registry === undefined ? {} : { registry: options.registry }),
    ...(options.shardsDir === undefined ? {} : { shardsDir: options.shardsDir }),
  });
  const width = Math.max(...checks.map((c) => c.name.length));
  for (const c of checks) process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(width)}  ${c.detail}\n`);
  const failed = checks.filter((c) => !c.ok).length;
  if (failed > 0) throw new CliError(`${failed} of ${checks.length} checks failed`);
}
