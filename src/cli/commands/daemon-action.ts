import { dirname, join, resolve } from 'node:path';
import { startDaemon } from '../../chain/daemon.ts';
import { RegistryMembership } from '../../chain/membership.ts';
import type { KeyPair } from '../../crypto/keys.ts';
import { registryEnrollment } from '../daemon-enrollment.ts';
import { roleKey } from '../role-key.ts';
import { metricsPortBeside, serveRole } from '../serve.ts';
import type { DaemonCommandOptions } from './daemon.ts';

/** --key, else daemon.key beside the database, created there on first start (said on stderr). */
function daemonKey(options: DaemonCommandOptions): KeyPair {
  return roleKey('daemon', options.key, [join(dirname(resolve(options.db)), 'daemon.key')]);
}

export async function daemonCommand(options: DaemonCommandOptions): Promise<void> {
  const key = daemonKey(options);
  await serveRole(
    'daemon',
    { host: options.metricsHost, port: options.metricsPort ?? metricsPortBeside(options.port) },
    ({ log, metrics }) =>
      startDaemon({
        port: options.port,
        host: options.host,
        dbPath: resolve(options.db),
        membership: new RegistryMembership(options.membership ?? options.registry),
        enrollment: registryEnrollment(options.registry, key, log),
        key,
        peers: options.peer,
        params: {
          blockIntervalMs: options.blockIntervalMs,
          maxSharesPerBlock: options.maxSharesPerBlock,
          windowBlocks: options.windowBlocks,
          epochSlots: options.epochSlots,
          finalityDepth: options.finalityDepth,
        },
        log,
        ...(options.advertise === undefined ? {} : { advertise: options.advertise }),
        ...(options.verifyThreads === undefined ? {} : { verifyThreads: options.verifyThreads }),
        metrics,
      }),
  );
}
