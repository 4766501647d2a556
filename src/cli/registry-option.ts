import type { Command } from 'commander';
import { CliError } from './cli-error.ts';

/** A registry on this machine at the default port, as `tessera registry` and `tessera up` start one. */
export const DEFAULT_REGISTRY = '127.0.0.1:50050';

const ENDPOINT = /^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/;

function collectRegistry(value: string, previous: string[] | undefined): string[] {
  const endpoints = value.split(',').filter((s) => s !== '');
  for (const e of endpoints) if (!ENDPOINT.test(e)) throw new CliError(`--registry must be HOST:PORT, got "${e}"`, 2);
  return [...(previous ?? []), ...endpoints];
}

/** `--registry HOST:PORT` (repeatable, or comma-separated): the seed registries a client starts from. */
export function addRegistryOption(command: Command): Command {
  return command.option(
    '--registry <endpoint>',
    `a registry to start from, HOST:PORT (repeatable; default ${DEFAULT_REGISTRY})`,
    collectRegistry,
  );
}

export function registriesOf(options: { registry?: string[] }): string[] {
  return options.registry?.length ? options.registry : [DEFAULT_REGISTRY];
}
