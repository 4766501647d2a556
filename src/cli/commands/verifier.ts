import { jsonLogger } from '../../core/log.ts';
import type { Command } from 'commander';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { KeyPair } from '../../crypto/keys.ts';
import { roleKey } from '../role-key.ts';
import { startVerifier } from '../../verifier/verifier.ts';
import { CliError, parseIntegerOption } from '../cli-error.ts';
import { parseEndpointOption } from './node.ts';
import { addMetricsOptions, closeOnSignal, serveRoleMetrics, stopSignal, type MetricsFlags } from '../serve.ts';

/** A verifier serves no RPC, so its metrics port is a fixed one beside the other roles' (their port + 1000). */
export const DEFAULT_VERIFIER_METRICS_PORT = 51080;

interface VerifierCommandOptions extends MetricsFlags {
  registry: string;
  shardsDir: string[];
  key?: string;
  threads: number;
  batch: number;
}

export function registerVerifierCommand(program: Command): void {
  const command = program
    .command('verifier')
    .description(
      'Audit compute nodes: lease tickets from the registry, recompute them with the bit-exact engine, and file a signed fraud proof for every mismatch.',
    )
    .requiredOption(
      '--registry <endpoint>',
      'HOST:PORT of the registry whose tickets to audit',
      parseEndpointOption('registry'),
    )
    .requiredOption(
      '--shards-dir <dir>',
      'a directory `tessera shard` wrote: the verifier audits the shards whose files it holds (repeatable)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option(
      '--key <file>',
      'the verifier key (mode 0600); default: verifier.key beside the shards dir, else ~/.config/tessera/verifier.key',
    )
    .option('--threads <n>', 'compute threads', parseIntegerOption('threads', 1, 256), 1)
    .option('--batch <n>', 'tickets leased per pull', parseIntegerOption('batch', 1, 64), 8);
  addMetricsOptions(command, String(DEFAULT_VERIFIER_METRICS_PORT)).action(async (options: VerifierCommandOptions) =>
    verifierCommand(options),
  );
}

/** --key, else an existing default key, else a new one in the config directory (said on stderr). */
function verifierKey(options: VerifierCommandOptions): KeyPair {
  const config = join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'tessera', 'verifier.key');
  return roleKey('verifier', options.key, [join(dirname(resolve(options.shardsDir[0]!)), 'verifier.key'), config]);
}

async function verifierCommand(options: VerifierCommandOptions): Promise<void> {
  const signal = stopSignal();
  const key = verifierKey(options);
  const log = jsonLogger('verifier');
  const endpoint = await serveRoleMetrics(
    'verifier',
    options.metricsHost,
    options.metricsPort ?? DEFAULT_VERIFIER_METRICS_PORT,
    log,
  );
  let handle;
  try {
    handle = await startVerifier({
      registry: options.registry,
      shardsDirs: options.shardsDir,
      key,
      threads: options.threads,
      batch: options.batch,
      metrics: endpoint.metrics,
    });
  } catch (error) {
    await endpoint.server.close();
    throw new CliError((error as Error).message);
  }
  endpoint.watch(() => handle.health());
  await closeOnSignal(signal, () => handle.close().finally(() => endpoint.server.close()), log);
}
