import { bytesToHex } from '@noble/hashes/utils.js';
import type { Command } from 'commander';
import { KeyFileError, readKeyFile, writeNewKeyFile } from '../../crypto/keys.ts';
import { CliError } from '../cli-error.ts';

export function registerKeysCommand(program: Command): void {
  const keys = program
    .command('keys')
    .description('Create and inspect the secp256k1 identity keys of nodes, daemons and verifiers.');
  keys
    .command('new')
    .description('Write a new key file (mode 0600) and print its node id. Never overwrites a key.')
    .requiredOption('--out <file>', 'where to write the key')
    .action((options: { out: string }) => {
      const key = withKeyErrors(() => writeNewKeyFile(options.out));
      process.stdout.write(`${key.address}\n`);
      process.stderr.write(`wrote ${options.out} (mode 0600); back it up: losing it loses what this node earned\n`);
    });
  keys
    .command('show')
    .description("Print a key file's node id and public (share) key.")
    .requiredOption('--key <file>', 'the key file')
    .action((options: { key: string }) => {
      const key = withKeyErrors(() => readKeyFile(options.key));
      process.stdout.write(`node id    ${key.address}\npublic key ${bytesToHex(key.publicKey)}\n`);
    });
}

function withKeyErrors<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof KeyFileError) throw new CliError(error.message);
    throw error;
  }
}
