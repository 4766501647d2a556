import { existsSync } from 'node:fs';
import { KeyFileError, readKeyFile, writeNewKeyFile, type KeyPair } from '../crypto/keys.ts';
import { CliError } from './cli-error.ts';

/**
 * A role's key: `--key` when given, else the first of `candidates` that exists, else a new key at
 * the last candidate (said on stderr, so the operator knows to back it up). Key file errors become
 * CliErrors with the fix they name.
 */
export function roleKey(role: string, explicit: string | undefined, candidates: readonly string[]): KeyPair {
  try {
    if (explicit !== undefined) return readKeyFile(explicit);
    const found = candidates.find((path) => existsSync(path));
    if (found !== undefined) return readKeyFile(found);
    const created = candidates[candidates.length - 1]!;
    const key = writeNewKeyFile(created);
    process.stderr.write(
      `no --key given and no key at ${candidates.join(' or ')}: created ${created} (mode 0600, ${role} id ${key.address}); back it up, or pass --key FILE (make one with: tessera keys new --out FILE)\n`,
    );
    return key;
  } catch (error) {
    if (error instanceof KeyFileError) throw new CliError(error.message);
    throw error;
  }
}
