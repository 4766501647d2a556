import { TesseraError } from '../core/errors.ts';
import { CliError } from './cli-error.ts';

/**
 * Failures of the network client that a user causes or can fix (a registry down, a model nobody
 * serves, a shard without a node), by the code the client gives them, with the fix to print.
 */
const FIXES: Readonly<Record<string, string>> = {
  REGISTRIES_UNAVAILABLE: 'start a network with `tessera up`, or pass --registry HOST:PORT',
  UNKNOWN_MODEL: '`tessera status` lists the models served',
  NO_ROUTE: '`tessera status` shows which shards have no node',
  GENERATION_FAILED: '`tessera status` shows the live nodes',
  INVALID_REQUEST: '',
};

/** The client's anticipated failures as one-line CliErrors; anything else as it is. */
export function networkFailure(error: unknown): unknown {
  if (error instanceof TesseraError) return error;
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string' || !(code in FIXES)) return error;
  const fix = FIXES[code]!;
  const message = (error as Error).message;
  return new CliError(fix === '' ? message : `${message}; ${fix}`, code === 'INVALID_REQUEST' ? 2 : 1, {
    cause: error,
  });
}
