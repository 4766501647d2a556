import type { Command } from 'commander';
import { CliError } from '../cli-error.ts';
import { addRegistryOption } from '../registry-option.ts';

export interface GrantOptions {
  key: string;
  to: string;
  stake?: bigint;
  deposit?: bigint;
  registry?: string[];
}

export function registerGrantCommand(program: Command): void {
  addRegistryOption(
    program
      .command('grant')
      .description(
        "As the cluster operator, credit stake to a member or a deposit to a client on the registry's ledger (the key must be one of the cluster config's operatorKeys).",
      ),
  )
    .requiredOption(
      '--key <file>',
      "the cluster operator's key (mode 0600), named in the cluster config's operatorKeys",
    )
    .requiredOption(
      '--to <address>',
      'who is credited: a node, daemon, verifier or client id (0x address)',
      parseAddress,
    )
    .option('--stake <n>', 'stake to credit, a whole number in the smallest unit', amountOf('stake'))
    .option('--deposit <n>', 'client deposit to credit, a whole number in the smallest unit', amountOf('deposit'))
    .action(async (options: GrantOptions) => (await import('./grant-action.ts')).grantCommand(options));
}

function parseAddress(value: string): string {
  if (!/^0x[0-9a-fA-F]{40}$/.test(value))
    throw new CliError(`--to must be 0x and 40 hex digits (a node or client id), got "${value}"`, 2);
  return value.toLowerCase();
}

/** A whole number of the smallest unit, as a bigint: wei outgrow JavaScript numbers. */
function amountOf(flag: string) {
  return (value: string): bigint => {
    if (!/^[0-9]{1,78}$/.test(value) || BigInt(value) === 0n)
      throw new CliError(
        `--${flag} must be a positive whole number in the smallest unit (e.g. wei), got "${value}"`,
        2,
      );
    return BigInt(value);
  };
}
