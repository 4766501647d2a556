import { dirname, join, resolve } from 'node:path';
import { startDaemon } from '../../chain/daemon.ts';
import { RegistryMembership } from '../../chain/membership.ts';
import { jsonLogger } from '../../core/log.ts';
import type { KeyPair } from '../../crypto/keys.ts';
import { CliError } from '../cli-error.ts';
import { registryEnrollment } from '../daemon-enrollment.ts';
import { roleKey } from '../role-key.ts';
import { closeOnSignal, metricsPortBeside, serveRoleMetrics, stopSignal } from '../serve.ts';
import type { DaemonCommandOptions } from './daemon.ts';

/** --key, else daemon.key beside the database, created there on first start (said on stderr). */
function daemonKey(options: DaemonCommandOptions): KeyPair {
  return roleKey('daemon', options.key, [join(dirname(resolve(options.db)), 'daemon.key')]);
}

export async function daemonCommand(options: DaemonCommandOptions): Promise<void> {
  const signal = stopSignal();
  const key = daemonKey(options);
  const log = jsonLogger('daemon');
  const endpoint = await serveRoleMetrics(
    'daemon',
    options.metricsHost,
    options.metricsPort ?? metricsPortBeside(options.port),
    log,
  );
  let handle;
  try {
    handle = await startDaemon({
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
      },
      log,
      ...(options.advertise === undefined ? {} : { advertise: options.advertise }),
      ...(options.verifyThreads === undefined ? {} : { verifyThreads: options.verifyThreads }),
      metrics: endpoint.metrics,
    });
  } catch (error) {
    await endpoint.server.close();
    throw new CliError((error as Error).message);
  }
  endpoint.watch(() => handle.health());
  await closeOnSignal(signal, () => handle.close().finally(() => endpoint.server.close()), log);
}
