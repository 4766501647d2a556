import { credentials as grpcCredentials, type ServiceError } from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../core/log.ts';
import type { KeyPair } from '../crypto/keys.ts';
import { MANIFEST_FILE, parseManifest, type Manifest, type ShardEntry } from '../model/manifest.ts';
import { tessera } from '../proto/services.ts';
import type { AssignShardReply__Output } from '../proto/tessera/v1/AssignShardReply.ts';
import type { RegistryClient as GrpcRegistryClient } from '../proto/tessera/v1/Registry.ts';
import { fromServiceError } from '../rpc/status.ts';
import { RegistryClient } from '../registry/registry-client.ts';
import { signAssignShardRequest } from '../registry/shard-assignment-request.ts';
import { fetchShardByRanges, fetchTokenizerByRange } from './range-fetch-shard.ts';
import { fromRegistry, resolveModelUrl } from './range-fetch-url.ts';
import { fetchModelFile, type FetchedFile } from './shard-fetch.ts';
import { shardSources, type ShardSources } from './shard-sources.ts';

/**
 * `tessera node --registry … --model …` (issue 12): the node says what it can hold, the registry
 * answers which shard to serve, and the node downloads that shard and the tokenizer, nothing else,
 * into its model directory. What it then serves is an ordinary shards directory (manifest.json, the
 * tokenizer, its one shard file), started like a pre-cut one.
 */

export interface JoinOptions {
  readonly registry: string;
  readonly modelId: string;
  readonly key: KeyPair;
  /** Where the model's files are kept across restarts. */
  readonly dir: string;
  /** The KV-cache budget the node runs with. */
  readonly kvBudgetBytes: number;
  /** Memory the node may fill; default the machine's free memory now. */
  readonly freeBytes?: number;
  readonly log: Logger;
  /** A progress report per file: its name, bytes held and its size. */
  readonly onProgress?: (file: string, held: number, total: number | undefined) => void;
  /**
   * The model's GGUF (https:, hf:OWNER/REPO/FILE.gguf[@REVISION], or http: to a loopback host), as
   * the operator gives it: the shard's tensors are fetched from it by range before any GetShard
   * source is asked. Without it, the manifest's source.url (https: or hf: only, to public addresses
   * only) is used.
   */
  readonly modelUrl?: string;
}

export interface Joined {
  readonly shardsDir: string;
  readonly shardIndex: number;
  readonly role: string;
  readonly manifest: Manifest;
  /** Per file fetched: what came over the network. */
  readonly files: readonly FetchedFile[];
  /** All bytes that came over the network for this join. */
  readonly fetchedBytes: number;
  readonly tokenizerPath: string;
  /** The model's GGUF, when its tensors are fetched by range (a move fetches from it too). */
  readonly rangeUrl?: URL;
}

export interface ShardFetch {
  readonly modelId: string;
  readonly manifest: Manifest;
  readonly entry: ShardEntry;
  readonly dir: string;
  readonly tokenizerPath: string;
  /** Tried first: the model's origin costs the network nothing, the manifest's hashes make it as safe as a peer. */
  readonly rangeUrl?: URL;
  /** GetShard servers: peers serving the shard, the registry last. */
  readonly sources: ShardSources;
  readonly log: Logger;
  readonly onProgress?: (file: string, held: number, total: number | undefined) => void;
}

/**
 * `fetch` by range from the model's URL, or undefined when that fails: the reason was logged where
 * it arose (range_fetch_failed), and the file's other sources (peers, the registry) remain.
 */
async function rangeFirst(
  file: string,
  what: 'tokenizer' | 'shard',
  log: Logger,
  fetch: () => Promise<FetchedFile>,
): Promise<FetchedFile | undefined> {
  try {
    return await fetch();
  } catch (error) {
    log('shard_range_fetch_abandoned', {
      file,
      code: (error as { code?: string }).code ?? 'INTERNAL',
      error: (error as Error).message,
      action: `fetching the ${what} file from peers and the registry`,
    });
    return undefined;
  }
}

/** The tokenizer file: from the head of the model's GGUF when fetching by range, else (or when that fails) from `sources`. */
async function fetchTokenizer(
  rangeUrl: URL | undefined,
  manifest: Manifest,
  sources: ShardSources,
  options: JoinOptions,
): Promise<FetchedFile> {
  const { log, dir, onProgress } = options;
  const byRange =
    rangeUrl === undefined
      ? undefined
      : await rangeFirst(manifest.tokenizerFile, 'tokenizer', log, () =>
          fetchTokenizerByRange({ url: rangeUrl, manifest, dir, log }),
        );
  if (byRange !== undefined) return byRange;
  return fetchModelFile(
    { modelId: options.modelId, file: manifest.tokenizerFile, sha256: manifest.tokenizerSha256 ?? '' },
    {
      ...sources,
      dir,
      log,
      ...(onProgress === undefined
        ? {}
        : { onProgress: (held, total) => onProgress(manifest.tokenizerFile, held, total) }),
    },
  );
}

/** One shard's file, by range from the model's URL when there is one, else (or when that fails) from `sources`. */
export async function fetchShard(options: ShardFetch): Promise<FetchedFile> {
  const { entry, log, onProgress } = options;
  const { rangeUrl } = options;
  const byRange =
    rangeUrl === undefined
      ? undefined
      : await rangeFirst(entry.file, 'shard', log, () =>
          fetchShardByRanges({
            url: rangeUrl,
            manifest: options.manifest,
            entry,
            dir: options.dir,
            tokenizerPath: options.tokenizerPath,
            log,
            ...(onProgress === undefined ? {} : { onProgress: (held, total) => onProgress(entry.file, held, total) }),
          }),
        );
  if (byRange !== undefined) return byRange;
  return fetchModelFile(
    {
      modelId: options.modelId,
      file: entry.file,
      sha256: entry.sha256,
      ...(entry.bytes === undefined ? {} : { bytes: entry.bytes }),
    },
    {
      ...options.sources,
      dir: options.dir,
      log,
      ...(onProgress === undefined ? {} : { onProgress: (held, total) => onProgress(entry.file, held, total) }),
    },
  );
}

/** The shards of a manifest already held complete in `dir` (a restart): what the node may keep serving. */
function heldShards(dir: string, manifest: Manifest | undefined): number[] {
  if (manifest === undefined) return [];
  const held: number[] = [];
  for (const entry of manifest.shards) {
    // Only a full-size file counts; its hash is checked before it is served.
    const size = statSync(join(dir, entry.file), { throwIfNoEntry: false })?.size;
    if (size !== undefined && (entry.bytes === undefined || size === entry.bytes)) held.push(entry.index);
  }
  return held;
}

function readLocalManifest(dir: string): Manifest | undefined {
  try {
    return parseManifest(readFileSync(join(dir, MANIFEST_FILE), 'utf8'), join(dir, MANIFEST_FILE));
  } catch {
    return undefined;
  }
}

/**
 * Where to range-fetch the shard's tensors from, if anywhere: the operator's URL, else the
 * manifest's. The origin comes first because it costs the network nothing; the manifest's hashes
 * make it as safe as a peer.
 */
function rangeSource(options: JoinOptions, manifest: Manifest): URL | undefined {
  const given = options.modelUrl;
  const spec = given ?? manifest.source?.url;
  if (spec === undefined) return undefined;
  if (manifest.tensors === undefined) {
    options.log('model_url_unusable', {
      url: spec,
      code: 'MANIFEST_NO_TENSORS',
      action: 'the manifest describes no tensors (re-cut it with this tessera shard); fetching the shard file whole',
    });
    return undefined;
  }
  // The operator's own URL may name any host, and be http to a loopback mirror; a registry's may
  // not aim nodes into their operators' networks, so it is fetched from public addresses alone.
  if (given !== undefined) return resolveModelUrl(given, { allowLoopbackHttp: true });
  try {
    return fromRegistry(resolveModelUrl(spec, { allowLoopbackHttp: false }));
  } catch (error) {
    options.log('model_url_unusable', {
      url: spec,
      code: (error as { code?: string }).code ?? 'INTERNAL',
      error: (error as Error).message,
      action: "the manifest's source.url is not one a node fetches from; fetching the shard file whole",
    });
    return undefined;
  }
}

/** Asks the registry which shard this node should serve; rejects with the registry's reason (a TesseraError). */
export async function assignShard(
  registry: string,
  key: KeyPair,
  request: {
    modelId: string;
    freeBytes: number;
    kvBudgetBytes: number;
    tier: string;
    held: readonly number[];
    serving?: number;
  },
): Promise<AssignShardReply__Output> {
  const client = new tessera.v1.Registry(registry, grpcCredentials.createInsecure()) as unknown as GrpcRegistryClient;
  const signed = signAssignShardRequest(key, {
    nodeId: key.address,
    modelId: request.modelId,
    freeBytes: request.freeBytes,
    kvBudgetBytes: request.kvBudgetBytes,
    tier: request.tier,
    held: [...request.held],
    ...(request.serving === undefined ? {} : { serving: request.serving }),
    timestampMs: Date.now(),
    nonce: randomBytes(16).toString('hex'),
  });
  try {
    return await new Promise<AssignShardReply__Output>((resolve, reject) =>
      client.assignShard(signed, { deadline: Date.now() + 15_000 }, (error, reply) =>
        error ? reject(fromServiceError(error as ServiceError)) : resolve(reply!),
      ),
    );
  } finally {
    client.close();
  }
}

export async function joinNetwork(options: JoinOptions): Promise<Joined> {
  const { log, dir } = options;
  mkdirSync(dir, { recursive: true });
  const registry = new RegistryClient(options.registry);
  let manifest: Manifest;
  let manifestJson: string;
  let nodes: readonly { nodeId: string; endpoint: string; shardIndex: number; tls: boolean }[];
  try {
    // Discover, not GetManifest: the manifest alone, the tokenizer comes with the other files.
    ({ manifest, manifestJson, nodes } = await registry.discover(options.modelId));
  } catch (error) {
    throw fromServiceError(error as ServiceError);
  } finally {
    registry.close();
  }
  const local = readLocalManifest(dir);
  const sameModel = local !== undefined && JSON.stringify(local) === JSON.stringify(manifest);
  const held = sameModel ? heldShards(dir, manifest) : [];
  const freeBytes = options.freeBytes ?? freemem();
  const assigned = await assignShard(options.registry, options.key, {
    modelId: options.modelId,
    freeBytes,
    kvBudgetBytes: options.kvBudgetBytes,
    tier: 'unmeasured',
    held,
  });
  log('shard_assignment', {
    modelId: options.modelId,
    shard: assigned.shardIndex,
    layers: `${assigned.layerStart}-${assigned.layerEnd - 1}`,
    shardRole: assigned.role,
    held,
    freeBytes,
  });
  writeFileSync(join(dir, MANIFEST_FILE), manifestJson);
  const entry = manifest.shards[assigned.shardIndex]!;
  const { sources, tls } = shardSources(nodes, entry.index, options.key.address, options.registry);
  const files: FetchedFile[] = [];
  const onProgress = options.onProgress;
  const rangeUrl = rangeSource(options, manifest);
  const tokenizer = await fetchTokenizer(rangeUrl, manifest, { sources, tls }, options);
  files.push(tokenizer);
  const shard = await fetchShard({
    modelId: options.modelId,
    manifest,
    entry,
    dir,
    tokenizerPath: tokenizer.path,
    ...(rangeUrl === undefined ? {} : { rangeUrl }),
    sources: { sources, tls },
    log,
    ...(onProgress === undefined ? {} : { onProgress }),
  });
  files.push(shard);
  const fetchedBytes = files.reduce((sum, f) => sum + f.fetchedBytes, 0);
  log('shard_files_ready', { modelId: options.modelId, shard: assigned.shardIndex, dir, fetchedBytes });
  return {
    shardsDir: dir,
    shardIndex: assigned.shardIndex,
    role: assigned.role,
    manifest,
    files,
    fetchedBytes,
    tokenizerPath: tokenizer.path,
    ...(rangeUrl === undefined ? {} : { rangeUrl }),
  };
}
