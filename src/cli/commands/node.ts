import type { Command } from 'commander';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { NODE_DEFAULTS } from '../../node/node-defaults.ts';
import { ModelUrlError, resolveModelUrl } from '../../node/range-fetch-url.ts';
import { DEFAULT_BATCH_POSITIONS } from '../../node/step-batcher.ts';
import type { TlsFiles } from '../../node/endpoint-security.ts';
import { plainFileNameProblem } from '../../model/plain-file-name.ts';
import { parseSpan, type ShardSpan } from '../../model/shards/span.ts';
import { CliError, parseIntegerOption, parseNumberOption } from '../cli-error.ts';
import { DEFAULT_THREADS } from '../default-threads.ts';
import { addMetricsOptions, type MetricsFlags } from '../metrics-options.ts';

export interface NodeCommandOptions extends MetricsFlags {
  /** --shard K or A-B: the shards the node holds. */
  shard?: ShardSpan;
  /** --shard-index K: the older spelling of --shard K. */
  shardIndex?: number;
  shardsDir?: string;
  model?: string;
  modelUrl?: string;
  rebalanceInterval: number;
  registry?: string;
  daemon?: string;
  port: number;
  host: string;
  key?: string;
  advertise?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  threads: number;
  maxSessions: number;
  maxSessionsPerClient?: number;
  maxSessionsPerPeer?: number;
  cacheMb: number;
  memoryMb?: number;
  maxBatchPositions: number;
  idleTimeout: number;
  price: number;
  region: string;
  dataDir?: string;
}

export const DEFAULT_NODE_PORT = 50052;

export function parseEndpointOption(name: string) {
  return (value: string): string => {
    if (!/^(\[[^\]\s]+\]|[^\s:/[\]]+):\d{1,5}$/.test(value))
      throw new CliError(`--${name} must be HOST:PORT, got "${value}"`, 2);
    return value;
  };
}

/** --shard: K (one shard) or A-B (shards A to B, both included). */
export function parseShardOption(value: string): ShardSpan {
  const span = parseSpan(value);
  if (span === undefined)
    throw new CliError(
      `--shard must be a shard K or a run of shards A-B (both included, A ≤ B), as in 3 or 0-2; got "${value}"`,
      2,
    );
  return span;
}

/** --shard, or the older --shard-index; not both. */
export function heldSpanOf(options: { shard?: ShardSpan; shardIndex?: number }): ShardSpan | undefined {
  if (options.shard !== undefined && options.shardIndex !== undefined)
    throw new CliError('--shard and --shard-index both name the shards to hold: pass --shard alone', 2);
  if (options.shardIndex !== undefined) return { start: options.shardIndex, end: options.shardIndex + 1 };
  return options.shard;
}

/** --model-url: checked here so that a mistyped URL is a usage error, not a failed join minutes later. */
export function parseModelUrlOption(value: string): string {
  try {
    resolveModelUrl(value, { allowLoopbackHttp: true });
  } catch (error) {
    if (error instanceof ModelUrlError) throw new CliError(`--model-url: ${error.message}`, 2);
    throw error;
  }
  return value;
}

/** --tls-cert and --tls-key go together. */
export function tlsFilesOption(cert: string | undefined, key: string | undefined): TlsFiles | undefined {
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) throw new CliError('--tls-cert and --tls-key go together: pass both', 2);
  return { cert, key };
}

export function registerNodeCommand(program: Command): void {
  const command = program
    .command('node')
    .description(
      'Serve shards of a model: checks each shard file against its manifest, registers with the registry and answers Forward sessions, running any span of the shards it holds as a hop of a route. With --registry and --model alone, the registry says which shards to hold and the node downloads only those.',
    )
    .option(
      '--shard <K|A-B>',
      'the shards to hold (with --shards-dir): shard K, or shards A to B, both included (e.g. 0-2)',
      parseShardOption,
    )
    .option('--shard-index <k>', 'the older spelling of --shard K', parseIntegerOption('shard-index', 0))
    .option('--shards-dir <dir>', 'the directory `tessera shard` wrote (manifest.json and the shard files)')
    .option(
      '--model <id>',
      'join without shard flags: the registry assigns shards of this model, fetched into --data-dir (default ~/.cache/tessera/MODEL)',
    )
    .option(
      '--model-url <url>',
      "with --model: the model's GGUF (https://…, hf:OWNER/REPO/FILE.gguf[@REVISION], or http:// to a loopback host), from which the node fetches only its shard's tensors by HTTP range, each checked against the manifest; peers and the registry remain the fallback. Without it the manifest's own URL is used, if it resolves to public addresses only",
      parseModelUrlOption,
    )
    .option(
      '--rebalance-interval <seconds>',
      'with --model: how often to ask whether moving to another shard would help the network (0: never)',
      parseIntegerOption('rebalance-interval', 0),
      120,
    )
    .option('--registry <endpoint>', 'HOST:PORT of the registry to register with', parseEndpointOption('registry'))
    .option(
      '--daemon <endpoint>',
      'HOST:PORT of the share-chain daemon to send compute shares to',
      parseEndpointOption('daemon'),
    )
    .option(
      '--port <port>',
      'port to listen on (0: any free port)',
      parseIntegerOption('port', 0, 65535),
      DEFAULT_NODE_PORT,
    )
    .option('--host <address>', 'address to listen on', NODE_DEFAULTS.host)
    .option(
      '--key <file>',
      'the node key (mode 0600); default: node.key beside the shards dir, else ~/.config/tessera/node.key',
    )
    .option(
      '--advertise <endpoint>',
      'HOST:PORT clients and other nodes reach this node at (default: HOST:PORT)',
      parseEndpointOption('advertise'),
    )
    .option('--tls-cert <file>', 'TLS certificate chain (PEM); required with a non-loopback --advertise')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option('--tls-ca <file>', 'CA bundle (PEM) that signs the TLS certificates of next hops (default: the system CAs)')
    .option('--threads <n>', 'compute threads', parseIntegerOption('threads', 1, 256), DEFAULT_THREADS)
    .option(
      '--max-sessions <n>',
      'most sessions served at once',
      parseIntegerOption('max-sessions', 1),
      NODE_DEFAULTS.maxSessions,
    )
    .option(
      '--max-sessions-per-client <n>',
      'most sessions one client key may hold (default: a quarter of --max-sessions)',
      parseIntegerOption('max-sessions-per-client', 1),
    )
    .option(
      '--max-sessions-per-peer <n>',
      'most sessions one address may hold, previous hops excepted (default: half of --max-sessions)',
      parseIntegerOption('max-sessions-per-peer', 1),
    )
    .option(
      '--cache-mb <n>',
      'KV-cache memory for all sessions, in MiB',
      parseIntegerOption('cache-mb', 1),
      NODE_DEFAULTS.cacheBytes / 2 ** 20,
    )
    .option(
      '--memory-mb <n>',
      "memory, in MiB, a node joining with --registry and --model may fill with its layers' weights and its KV cache: the registry gives it the run of layers that fits (default: the machine's free memory)",
      parseNumberOption('memory-mb', 1, Number.MAX_SAFE_INTEGER),
    )
    .option(
      '--max-batch-positions <n>',
      'most positions one batched step runs (decodes of all ready sessions plus a prompt chunk)',
      parseIntegerOption('max-batch-positions', 1, 65536),
      DEFAULT_BATCH_POSITIONS,
    )
    .option(
      '--idle-timeout <seconds>',
      'evict a session unused this long',
      parseIntegerOption('idle-timeout', 1),
      NODE_DEFAULTS.idleTimeoutMs / 1000,
    )
    .option('--price <n>', "price per 1000 tokens, in the cluster's smallest unit", parseIntegerOption('price', 0), 0)
    .option('--region <name>', 'coarse region announced to the registry', '')
    .option(
      '--data-dir <dir>',
      'where the node keeps the audit steps it may owe, its unsent shares and (with --model) the model files it fetched, across restarts (default: memory only; model files in ~/.cache/tessera)',
    );
  addMetricsOptions(command, '--port + 1000').action(async (options: NodeCommandOptions) =>
    (await import('./node-action.ts')).nodeCommand(options),
  );
}

/**
 * Which way the node gets its shards: pre-cut (--shards-dir and --shard) or assigned by the registry
 * (--registry and --model); anything else is a usage error naming both.
 */
export function shardSourceOf(
  options: Pick<
    NodeCommandOptions,
    'shardsDir' | 'shard' | 'shardIndex' | 'model' | 'registry' | 'modelUrl' | 'memoryMb'
  >,
): { kind: 'pre-cut'; shardsDir: string; span: ShardSpan } | { kind: 'assigned'; modelId: string; registry: string } {
  const span = heldSpanOf(options);
  const preCut = options.shardsDir !== undefined || span !== undefined;
  if (preCut && options.model !== undefined)
    throw new CliError(
      '--model asks the registry for shards; --shards-dir and --shard name them: pass one or the other',
      2,
    );
  if (preCut && options.modelUrl !== undefined)
    throw new CliError(
      '--model-url says where to fetch an assigned shard from: it goes with --model, not --shards-dir',
      2,
    );
  if (preCut && options.memoryMb !== undefined)
    throw new CliError('--memory-mb sizes the shards the registry assigns: it goes with --model, not --shards-dir', 2);
  if (preCut) {
    if (options.shardsDir === undefined || span === undefined)
      throw new CliError('--shards-dir and --shard go together: pass both, or --registry and --model alone', 2);
    return { kind: 'pre-cut', shardsDir: options.shardsDir, span };
  }
  if (options.model === undefined || options.registry === undefined)
    throw new CliError(
      'say which shards to serve: --registry HOST:PORT --model MODEL_ID (the registry assigns them), or --shards-dir DIR --shard K|A-B',
      2,
    );
  if (plainFileNameProblem(options.model) !== undefined)
    throw new CliError(`--model must be a model id (a plain name), got ${JSON.stringify(options.model)}`, 2);
  return { kind: 'assigned', modelId: options.model, registry: options.registry };
}

/** Where an assigned node keeps its model's files: under --data-dir, else the user's cache directory. */
export function modelFilesDir(modelId: string, dataDir: string | undefined): string {
  if (dataDir !== undefined) return join(resolve(dataDir), 'models', modelId);
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tessera', modelId);
}

/** Where a node looks for its key without --key: beside the shards dir, then the user's config directory. */
export function defaultKeyPaths(shardsDir: string | undefined): string[] {
  const config = join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'tessera', 'node.key');
  return shardsDir === undefined ? [config] : [join(dirname(resolve(shardsDir)), 'node.key'), config];
}
