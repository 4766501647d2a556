import type { Command } from 'commander';
import { parseIntegerOption } from '../cli-error.ts';
import { addRegistryOption } from '../registry-option.ts';
import { parseEndpointOption } from './node.ts';

export const RECENT_BLOCKS = 20;

export interface ChainOptions {
  daemon?: string;
  registry?: string[];
  json: boolean;
}

export function registerChainCommand(program: Command): void {
  const chain = program
    .command('chain')
    .description("Inspect a daemon's share chain: blocks, their shares, settlement summaries.");
  const common = (command: Command) =>
    addRegistryOption(
      command.option(
        '--daemon <endpoint>',
        'HOST:PORT of the daemon (default: a live daemon the registry lists)',
        parseEndpointOption('daemon'),
      ),
    ).option('--json', 'print JSON', false);
  common(chain.command('blocks').description(`List canonical blocks, the last ${RECENT_BLOCKS} by default.`))
    .option('--from <height>', 'first height', parseIntegerOption('from', 0))
    .option('--to <height>', 'last height (default: the head)', parseIntegerOption('to', 0))
    .action(async (options: ChainOptions & { from?: number; to?: number }) =>
      (await import('./chain-action.ts')).blocksCommand(options),
    );
  common(
    chain
      .command('block')
      .description('Show one canonical block with its shares.')
      .argument('<height>', 'block height', parseIntegerOption('height', 0)),
  ).action(async (height: number, options: ChainOptions) =>
    (await import('./chain-action.ts')).blockCommand(height, options),
  );
  common(
    chain
      .command('summary')
      .description('Show the settlement summary of a complete window.')
      .argument('<window>', 'window number', parseIntegerOption('window', 0)),
  ).action(async (window: number, options: ChainOptions) =>
    (await import('./chain-action.ts')).summaryCommand(window, options),
  );
}
