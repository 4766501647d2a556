import type { Command } from 'commander';
import { DEFAULT_THREADS } from '../default-threads.ts';
import { parseIntegerOption } from '../cli-error.ts';
import { parseEndpointOption } from './node.ts';

export interface ProfileOptions {
  model?: string;
  threads: number;
  registry?: string;
  region: string;
  kvMb: number;
  json: boolean;
}

export function registerProfileCommand(program: Command): void {
  program
    .command('profile')
    .description(
      'Measure this machine as the network sees it: memory, cores and speed as coarse bands (a short benchmark of one layer of the model), the round trip to a registry, and which roles it can take.',
    )
    .option('--model <model>', 'the model to measure a layer of (a path or hf:OWNER/REPO/FILE; default stories260K)')
    .option('--threads <k>', 'compute threads', parseIntegerOption('threads', 1, 256), DEFAULT_THREADS)
    .option(
      '--registry <host:port>',
      'measure the round trip to this registry: the least of ten TCP handshakes (none: the network band is unmeasured)',
      parseEndpointOption('registry'),
    )
    .option('--region <name>', 'a region to announce, if the operator wants to give one', '')
    .option(
      '--kv-mb <n>',
      'the KV cache budget a node would keep, in MiB',
      parseIntegerOption('kv-mb', 0, 1 << 20),
      512,
    )
    .option('--json', 'print one JSON object', false)
    .action(async (options: ProfileOptions) => (await import('./profile-action.ts')).profileCommand(options));
}
