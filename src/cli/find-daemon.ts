import { status, type ServiceError } from '@grpc/grpc-js';
import { RegistryMembership, type Member } from '../chain/membership.ts';
import { CliError } from './cli-error.ts';

/**
 * The endpoint of a live share-chain daemon, as the registries list it (daemons register with role
 * "daemon" and heartbeat; the Membership service lists the live ones). The registries are asked in
 * turn until one answers; among its daemons the one heard from last is taken, since every daemon
 * serves the same canonical chain.
 */
export async function findDaemon(registries: readonly string[], deadlineMs = 5_000): Promise<string> {
  const failures: string[] = [];
  for (const registry of registries) {
    const membership = new RegistryMembership(registry, { deadlineMs });
    let daemons: Member[];
    try {
      daemons = await membership.liveDaemons();
    } catch (error) {
      const e = error as ServiceError;
      if (typeof e.code !== 'number') throw error;
      failures.push(`${registry}: ${e.code === status.UNAVAILABLE ? 'no answer' : status[e.code]}`);
      continue;
    } finally {
      membership.close();
    }
    const newest = [...daemons].sort((a, b) => b.lastSeenMs - a.lastSeenMs)[0];
    if (newest === undefined)
      throw new CliError(
        `registry ${registry} lists no live daemon; start one with \`tessera daemon --registry ${registry}\` (or \`tessera up\`), or pass --daemon HOST:PORT`,
        1,
        { kind: 'not_found' },
      );
    return newest.endpoint;
  }
  throw new CliError(
    `no registry answers (${failures.join('; ')}) to say where a daemon is; start one with \`tessera up\`, or pass --registry HOST:PORT or --daemon HOST:PORT`,
    1,
    { kind: 'unavailable' },
  );
}
