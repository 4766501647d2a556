import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { jsonLogger } from '../../core/log.ts';
import type { KeyPair } from '../../crypto/keys.ts';
import { startVerifier } from '../../verifier/verifier.ts';
import { CliError } from '../cli-error.ts';
import { roleKey } from '../role-key.ts';
import { closeOnSignal, serveRoleMetrics, stopSignal } from '../serve.ts';
import { DEFAULT_VERIFIER_METRICS_PORT, type VerifierCommandOptions } from './verifier.ts';

/** --key, else an existing default key, else a new one in the config directory (said on stderr). */
function verifierKey(options: VerifierCommandOptions): KeyPair {
  const config = join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'tessera', 'verifier.key');
  return roleKey('verifier', options.key, [join(dirname(resolve(options.shardsDir[0]!)), 'verifier.key'), config]);
}

export async function verifierCommand(options: VerifierCommandOptions): Promise<void> {
  const signal = stopSignal();
  const key = verifierKey(options);
  const log = jsonLogger('verifier');
  const endpoint = await serveRoleMetrics(
    'verifier',
    options.metricsHost,
    options.metricsPort ?? DEFAULT_VERIFIER_METRICS_PORT,
    log,
  );
  let handle;
  try {
    handle = await startVerifier({
      registry: options.registry,
      shardsDirs: options.shardsDir,
      key,
      threads: options.threads,
      batch: options.batch,
      metrics: endpoint.metrics,
    });
  } catch (error) {
    await endpoint.server.close();
    throw new CliError((error as Error).message);
  }
  endpoint.watch(() => handle.health());
  await closeOnSignal(signal, () => handle.close().finally(() => endpoint.server.close()), log);
}
