import type { Command } from 'commander';
import { addRegistryOption } from '../registry-option.ts';

export interface StatusOptions {
  registry?: string[];
  json: boolean;
}

export function registerStatusCommand(program: Command): void {
  addRegistryOption(
    program
      .command('status')
      .description('Show the registries, the models, the live nodes of every shard, and the shards nobody serves.'),
  )
    .option('--json', 'print one JSON object', false)
    .action(async (options: StatusOptions) => (await import('./status-action.ts')).statusCommand(options));
}
