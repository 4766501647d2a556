import type { Command } from 'commander';
import { collect, parseIntegerOption } from '../cli-error.ts';
import { addMetricsOptions, type MetricsFlags } from '../metrics-options.ts';
import { parseEndpointOption } from './node.ts';

/** A verifier serves no RPC, so its metrics port is a fixed one beside the other roles' (their port + 1000). */
export const DEFAULT_VERIFIER_METRICS_PORT = 51080;

export interface VerifierCommandOptions extends MetricsFlags {
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
      'a directory `tessera shard` wrote: the verifier audits the tickets whose every shard file it holds (repeatable)',
      collect,
    )
    .option(
      '--key <file>',
      'the verifier key (mode 0600); default: verifier.key beside the shards dir, else ~/.config/tessera/verifier.key',
    )
    .option('--threads <n>', 'compute threads', parseIntegerOption('threads', 1, 256), 1)
    .option('--batch <n>', 'tickets leased per pull', parseIntegerOption('batch', 1, 64), 8);
  addMetricsOptions(command, String(DEFAULT_VERIFIER_METRICS_PORT)).action(async (options: VerifierCommandOptions) =>
    (await import('./verifier-action.ts')).verifierCommand(options),
  );
}
