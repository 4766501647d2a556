import { bytesToHex } from '@noble/hashes/utils.js';
import { KeyFileError, readKeyFile, writeNewKeyFile } from '../../crypto/keys.ts';
import { CliError } from '../cli-error.ts';

export function newKeyCommand(options: { out: string }): void {
  const key = withKeyErrors(() => writeNewKeyFile(options.out));
  process.stdout.write(`${key.address}\n`);
  process.stderr.write(`wrote ${options.out} (mode 0600); back it up: losing it loses what this node earned\n`);
}

export function showKeyCommand(options: { key: string }): void {
  const key = withKeyErrors(() => readKeyFile(options.key));
  process.stdout.write(`node id    ${key.address}\npublic key ${bytesToHex(key.publicKey)}\n`);
}

function withKeyErrors<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof KeyFileError) throw new CliError(error.message);
    throw error;
  }
}
