/** An error the CLI reports as one line, exiting with `exitCode` (2: bad usage, 1: failure). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
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
