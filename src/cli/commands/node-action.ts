import type { KeyPair } from '../../crypto/keys.ts';
import type { ShardSpan } from '../../model/shards/span.ts';
import { startNode } from '../../node/node-server.ts';
import { joinNetwork } from '../../node/shard-fetch-join.ts';
import { serveWithRebalancing } from '../../node/shard-fetch-rebalance.ts';
import { fromServiceError } from '../../rpc/status.ts';
import { TesseraError } from '../../core/errors.ts';
import { CliError } from '../cli-error.ts';
import { progressBar } from '../progress.ts';
import { roleKey } from '../role-key.ts';
import { metricsPortBeside, serveRole } from '../serve.ts';
import { defaultKeyPaths, modelFilesDir, shardSourceOf, tlsFilesOption, type NodeCommandOptions } from './node.ts';

/** --key, else an existing default key, else a new key in the config directory (said on stderr). */
function nodeKey(options: NodeCommandOptions): KeyPair {
  return roleKey('node', options.key, defaultKeyPaths(options.shardsDir));
}

export async function nodeCommand(options: NodeCommandOptions): Promise<void> {
  const source = shardSourceOf(options);
  const key = nodeKey(options);
  const tls = tlsFilesOption(options.tlsCert, options.tlsKey);
  await serveRole(
    'node',
    { host: options.metricsHost, port: options.metricsPort ?? metricsPortBeside(options.port) },
    async ({ log, metrics }) => {
      // A node started by a rebalancing move takes the figures over (src/node/node-metrics.ts).
      const serve = (shardsDir: string, span: ShardSpan) =>
        startNode({
          shardsDir,
          shardIndex: span.start,
          shardEnd: span.end,
          port: options.port,
          host: options.host,
          key,
          threads: options.threads,
          maxSessions: options.maxSessions,
          ...(options.maxSessionsPerClient === undefined ? {} : { maxSessionsPerClient: options.maxSessionsPerClient }),
          ...(options.maxSessionsPerPeer === undefined ? {} : { maxSessionsPerPeer: options.maxSessionsPerPeer }),
          cacheBytes: options.cacheMb * 2 ** 20,
          maxBatchPositions: options.maxBatchPositions,
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
        });
      if (source.kind === 'pre-cut') return serve(source.shardsDir, source.span);
      // One bar per file, on stderr, and only for bytes that actually come over the network.
      const bars = new Map<string, (held: number, total: number | undefined) => void>();
      const onProgress = (file: string, held: number, total: number | undefined) => {
        if (!bars.has(file)) bars.set(file, progressBar(file));
        bars.get(file)!(held, total);
      };
      const dir = modelFilesDir(source.modelId, options.dataDir);
      const kvBudgetBytes = options.cacheMb * 2 ** 20;
      const memory = options.memoryMb === undefined ? {} : { freeBytes: Math.floor(options.memoryMb * 2 ** 20) };
      let joined;
      try {
        joined = await joinNetwork({
          registry: source.registry,
          modelId: source.modelId,
          key,
          dir,
          kvBudgetBytes,
          log,
          onProgress,
          ...memory,
          ...(options.modelUrl === undefined ? {} : { modelUrl: options.modelUrl }),
        });
      } catch (error) {
        const refusal = error instanceof TesseraError ? error : fromServiceError(error as never);
        throw new CliError(`cannot join through registry ${source.registry}: ${refusal.code}: ${refusal.message}`);
      }
      const node = await serve(joined.shardsDir, joined.span);
      if (options.rebalanceInterval === 0) return node;
      return serveWithRebalancing({
        registry: source.registry,
        modelId: source.modelId,
        key,
        manifest: joined.manifest,
        dir,
        kvBudgetBytes,
        intervalMs: options.rebalanceInterval * 1000,
        log,
        span: joined.span,
        node,
        start: (span) => serve(dir, span),
        onProgress,
        ...memory,
        tokenizerPath: joined.tokenizerPath,
        ...(joined.rangeUrl === undefined ? {} : { rangeUrl: joined.rangeUrl }),
      });
    },
  );
}
