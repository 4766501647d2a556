import { status, type ServiceError } from '@grpc/grpc-js';
import { KeyFileError, readKeyFile, type KeyPair } from '../../crypto/keys.ts';
import { RegistryClient } from '../../registry/registry-client.ts';
import { CliError } from '../cli-error.ts';
import { registriesOf } from '../registry-option.ts';
import type { GrantOptions } from './grant.ts';

export async function grantCommand(options: GrantOptions): Promise<void> {
  if (options.stake === undefined && options.deposit === undefined)
    throw new CliError('give --stake N, --deposit N or both: a grant credits something', 2);
  let key: KeyPair;
  try {
    key = readKeyFile(options.key);
  } catch (error) {
    if (error instanceof KeyFileError) throw new CliError(`--key: ${error.message}`);
    throw error;
  }
  const registry = registriesOf(options)[0]!;
  const client = new RegistryClient(registry, { deadlineMs: 30_000 });
  try {
    const after = await client
      .grant(key, options.to, {
        ...(options.stake === undefined ? {} : { stake: options.stake }),
        ...(options.deposit === undefined ? {} : { deposit: options.deposit }),
      })
      .catch((error: unknown) => {
        throw refusal(registry, error);
      });
    const credited = [
      ...(options.stake === undefined ? [] : [`stake ${options.stake}`]),
      ...(options.deposit === undefined ? [] : [`deposit ${options.deposit}`]),
    ].join(' and ');
    process.stdout.write(
      `granted ${credited} to ${options.to}; its stake is now ${after.stake}, its balance as a client ${after.balance}\n`,
    );
  } finally {
    client.close();
  }
}

/** A registry's refusal (or silence) as one line that says what to do. */
function refusal(registry: string, error: unknown): unknown {
  const e = error as ServiceError;
  if (typeof e.code !== 'number') return error;
  if (e.code === status.UNAVAILABLE || e.code === status.DEADLINE_EXCEEDED)
    return new CliError(
      `no registry answers at ${registry} (${e.details}); start a network with \`tessera up\`, or pass --registry HOST:PORT`,
      1,
      { kind: 'unavailable' },
    );
  return new CliError(`registry ${registry}: ${status[e.code]}: ${e.details}`);
}
