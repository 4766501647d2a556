import { TesseraError, type ErrorKind } from '../core/errors.ts';

/** Exit status of a command given bad flags or arguments (as commander's own errors exit here). */
export const USAGE_EXIT = 2;

/**
 * An error the CLI reports as one line, `tessera: <message>`, exiting with `exitCode` (2: bad usage,
 * code CLI_USAGE; 1: the command failed, code CLI_FAILED). The message names the fix.
 */
export class CliError extends TesseraError {
  readonly exitCode: number;

  constructor(message: string, exitCode = 1, options?: { readonly kind?: ErrorKind; readonly cause?: unknown }) {
    const usage = exitCode === USAGE_EXIT;
    super(
      usage ? 'CLI_USAGE' : 'CLI_FAILED',
      options?.kind ?? (usage ? 'invalid' : 'failed_precondition'),
      message,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.exitCode = exitCode;
  }
}

export function parseIntegerOption(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new CliError(`--${name} must be an integer from ${min} to ${max}, got "${value}"`, 2);
    return n;
  };
}

export function parseNumberOption(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new CliError(`--${name} must be a number from ${min} to ${max}, got "${value}"`, 2);
    return n;
  };
}

/** For a repeatable option: each occurrence appended to the list. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
