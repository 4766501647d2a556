import type { Command } from 'commander';

export function registerKeysCommand(program: Command): void {
  const keys = program
    .command('keys')
    .description('Create and inspect the secp256k1 identity keys of nodes, daemons and verifiers.');
  keys
    .command('new')
    .description('Write a new key file (mode 0600) and print its node id. Never overwrites a key.')
    .requiredOption('--out <file>', 'where to write the key')
    .action(async (options: { out: string }) => (await import('./keys-action.ts')).newKeyCommand(options));
  keys
    .command('show')
    .description("Print a key file's node id and public (share) key.")
    .requiredOption('--key <file>', 'the key file')
    .action(async (options: { key: string }) => (await import('./keys-action.ts')).showKeyCommand(options));
}
