import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { KeyPair } from '../../crypto/keys.ts';
import { startVerifier } from '../../verifier/verifier.ts';
import { roleKey } from '../role-key.ts';
import { serveRole } from '../serve.ts';
import { DEFAULT_VERIFIER_METRICS_PORT, type VerifierCommandOptions } from './verifier.ts';

/** --key, else an existing default key, else a new one in the config directory (said on stderr). */
function verifierKey(options: VerifierCommandOptions): KeyPair {
  const config = join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'tessera', 'verifier.key');
  return roleKey('verifier', options.key, [join(dirname(resolve(options.shardsDir[0]!)), 'verifier.key'), config]);
}

export async function verifierCommand(options: VerifierCommandOptions): Promise<void> {
  const key = verifierKey(options);
  await serveRole(
    'verifier',
    { host: options.metricsHost, port: options.metricsPort ?? DEFAULT_VERIFIER_METRICS_PORT },
    ({ log, metrics }) =>
      startVerifier({
        registry: options.registry,
        shardsDirs: options.shardsDir,
        key,
        threads: options.threads,
        batch: options.batch,
        metrics,
        log,
      }),
  );
}
