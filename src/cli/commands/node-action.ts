import type { KeyPair } from '../../crypto/keys.ts';
import { startNode } from '../../node/node-server.ts';
import { roleKey } from '../role-key.ts';
import { metricsPortBeside, serveRole } from '../serve.ts';
import { defaultKeyPaths, tlsFilesOption, type NodeCommandOptions } from './node.ts';

/** --key, else an existing default key, else a new key in the config directory (said on stderr). */
function nodeKey(options: NodeCommandOptions): KeyPair {
  return roleKey('node', options.key, defaultKeyPaths(options.shardsDir));
}

export async function nodeCommand(options: NodeCommandOptions): Promise<void> {
  const key = nodeKey(options);
  const tls = tlsFilesOption(options.tlsCert, options.tlsKey);
  await serveRole(
    'node',
    { host: options.metricsHost, port: options.metricsPort ?? metricsPortBeside(options.port) },
    ({ log, metrics }) =>
      startNode({
        shardsDir: options.shardsDir,
        shardIndex: options.shardIndex,
        port: options.port,
        host: options.host,
        key,
        threads: options.threads,
        maxSessions: options.maxSessions,
        ...(options.maxSessionsPerClient === undefined ? {} : { maxSessionsPerClient: options.maxSessionsPerClient }),
        ...(options.maxSessionsPerPeer === undefined ? {} : { maxSessionsPerPeer: options.maxSessionsPerPeer }),
        cacheBytes: options.cacheMb * 2 ** 20,
        idleTimeoutMs: options.idleTimeout * 1000,
        pricePer1kTokens: options.price,
        region: options.region,
        ...(options.registry === undefined ? {} : { registry: options.registry }),
        ...(options.daemon === undefined ? {} : { daemon: options.daemon }),
        ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
        ...(options.advertise === undefined ? {} : { advertise: options.advertise }),
        ...(tls === undefined ? {} : { tls }),
        ...(options.tlsCa === undefined ? {} : { tlsCa: options.tlsCa }),
        metrics,
        log,
      }),
  );
}
