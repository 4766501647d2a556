import type { Command } from 'commander';
import { CliError } from '../cli-error.ts';
import { addRegistryOption } from '../registry-option.ts';
import { defaultKeyPaths } from './node.ts';

export interface KeyOptions {
  key?: string;
  registry?: string[];
}

export function registerStakeCommands(program: Command): void {
  const withKey = (command: Command) =>
    addRegistryOption(
      command.option('--key <file>', `the node's key (mode 0600); default ${defaultKeyPaths(undefined)[0]}`),
    );

  withKey(
    program
      .command('stake')
      .description(
        "Bond stake for the key's node: on the registry's ledger from its own earnings, on the escrow contract by a transfer from its account. Members below their role's minimum are not admitted.",
      ),
  )
    .requiredOption(
      '--amount <n>',
      'how much to add, a whole number in the smallest unit (wei with an escrow contract)',
      parseAmount,
    )
    .action(async (options: KeyOptions & { amount: bigint }) =>
      (await import('./stake-action.ts')).stakeCommand(options),
    );

  withKey(
    program
      .command('unstake')
      .description('Start the unstaking cooldown: the node gets no new work; prints when it may withdraw.'),
  ).action(async (options: KeyOptions) => (await import('./stake-action.ts')).unstakeCommand(options));

  withKey(
    program.command('withdraw').description('Take the whole stake back once the unstaking cooldown is over.'),
  ).action(async (options: KeyOptions) => (await import('./stake-action.ts')).withdrawCommand(options));

  withKey(program.command('claim').description("Take out the node's earnings from finalized settlements.")).action(
    async (options: KeyOptions) => (await import('./stake-action.ts')).claimCommand(options),
  );

  addRegistryOption(
    program
      .command('account')
      .description(
        "Show an address's stake, unstaking cooldown, claimable earnings and deposits, and where the cluster settles.",
      ),
  )
    .argument('[address]', 'a 0x address (node id); default: the address of --key')
    .option('--key <file>', "show the account of this key's node")
    .option('--json', 'print JSON', false)
    .action(async (address: string | undefined, options: KeyOptions & { json: boolean }) =>
      (await import('./stake-action.ts')).accountCommand(address, options),
    );
}

/** A whole number of the smallest unit, as a bigint: wei outgrow JavaScript numbers. */
function parseAmount(value: string): bigint {
  if (!/^[0-9]+$/.test(value) || BigInt(value) === 0n)
    throw new CliError(`--amount must be a positive whole number in the smallest unit (e.g. wei), got "${value}"`, 2);
  return BigInt(value);
}
