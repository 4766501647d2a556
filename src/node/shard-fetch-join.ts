import { credentials as grpcCredentials, type ServiceError } from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../core/log.ts';
import type { KeyPair } from '../crypto/keys.ts';
import { TesseraError } from '../core/errors.ts';
import { MANIFEST_FILE, parseManifest, type Manifest, type ShardEntry } from '../model/manifest.ts';
import {
  formatSpan,
  spanBytes,
  spanContains,
  spanEntries,
  spanOfShard,
  spanProblem,
  type ShardSpan,
} from '../model/shards/span.ts';
import { tessera } from '../proto/services.ts';
import type { AssignShardReply__Output } from '../proto/tessera/v1/AssignShardReply.ts';
import type { RegistryClient as GrpcRegistryClient } from '../proto/tessera/v1/Registry.ts';
import { fromServiceError } from '../rpc/status.ts';
import { RegistryClient } from '../registry/registry-client.ts';
import { signAssignShardRequest } from '../registry/shard-assignment-request.ts';
import { fetchShardByRanges, fetchTokenizerByRange } from './range-fetch-shard.ts';
import { fromRegistry, resolveModelUrl } from './range-fetch-url.ts';
import { fetchModelFile, type FetchedFile } from './shard-fetch.ts';
import { spanSources, type ListedNode, type ShardSources, type SpanSources } from './shard-sources.ts';

/**
 * `tessera node --registry … --model …` (issue 12): the node says what it can hold, the registry
 * answers which span of shards to hold, and the node downloads that span's shard files and the
 * tokenizer, nothing else, into its model directory. What it then serves is an ordinary shards
 * directory (manifest.json, the tokenizer, its span's files), started like a pre-cut one.
 */

export interface JoinOptions {
  readonly registry: string;
  readonly modelId: string;
  readonly key: KeyPair;
  /** Where the model's files are kept across restarts. */
  readonly dir: string;
  /** The KV-cache budget the node runs with. */
  readonly kvBudgetBytes: number;
  /**
   * Memory the node may fill with its span's weights and its KV cache: the registry hands it the
   * longest span that fits. Default the machine's free memory now.
   */
  readonly freeBytes?: number;
  readonly log: Logger;
  /**
   * Progress as bytes come over the network: the tokenizer's under its file name, the span's shard
   * files together under the span's name (SpanFetch.onProgress).
   */
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
  /** The shards the registry assigned, each file of them held and checked against the manifest. */
  readonly span: ShardSpan;
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
  /** GetShard servers: peers holding the shard, the registry last. */
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

/**
 * One shard's file, by range from the model's URL when there is one, else (or when that fails:
 * `onRangeAbandoned`) from `sources`.
 */
async function fetchShard(options: ShardFetch & { readonly onRangeAbandoned?: () => void }): Promise<FetchedFile> {
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
  if (rangeUrl !== undefined) options.onRangeAbandoned?.();
  return fetchModelFile(
    {
      modelId: options.modelId,
      file: entry.file,
      sha256: entry.sha256,
      bytes: entry.bytes,
    },
    {
      ...options.sources,
      dir: options.dir,
      log,
      ...(onProgress === undefined ? {} : { onProgress: (held, total) => onProgress(entry.file, held, total) }),
    },
  );
}

export interface SpanFetch extends Omit<ShardFetch, 'entry' | 'sources' | 'onProgress'> {
  readonly span: ShardSpan;
  /** GetShard servers per shard: peers holding a span that contains it, the registry last. */
  readonly sources: SpanSources;
  /** Shards whose files the node holds checked already (a move's overlap with the span it leaves): left as they are. */
  readonly keep?: ShardSpan;
  /**
   * One report for the whole span, under `label` (e.g. "shards 0–3 of stories260K"): bytes of its
   * files held, of spanBytes. Only files that come over the network report.
   */
  readonly onProgress?: (label: string, held: number, total: number) => void;
}

/**
 * Every shard file of `span`, one after the other, each from the model's URL first, then from the
 * peers holding its shard, then the registry (fetchShard), and each checked against the manifest.
 * After the URL fails for one file the rest of the span skips it: the origin refused once already.
 */
export async function fetchSpan(options: SpanFetch): Promise<FetchedFile[]> {
  const { manifest, span, log, onProgress } = options;
  const label = `${formatSpan(span)} of ${manifest.modelId}`;
  const total = spanBytes(manifest, span);
  let rangeUrl = options.rangeUrl;
  let before = 0;
  const files: FetchedFile[] = [];
  for (const entry of spanEntries(manifest, span)) {
    const base = before;
    before += entry.bytes;
    if (options.keep !== undefined && spanContains(options.keep, spanOfShard(entry.index))) continue;
    const file = await fetchShard({
      modelId: options.modelId,
      manifest,
      dir: options.dir,
      tokenizerPath: options.tokenizerPath,
      log,
      entry,
      ...(rangeUrl === undefined ? {} : { rangeUrl }),
      onRangeAbandoned: () => {
        log('model_url_skipped', { span: label, action: 'the rest of the span comes from peers and the registry' });
        rangeUrl = undefined;
      },
      sources: options.sources(entry.index),
      // A range fetch counts its tensors' bytes, a GetShard the file's: either scales to the file's share.
      ...(onProgress === undefined
        ? {}
        : {
            onProgress: (_file: string, held: number, of: number | undefined) =>
              onProgress(label, base + Math.round(of ? (entry.bytes * held) / of : held), total),
          }),
    });
    files.push(file);
  }
  return files;
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

/**
 * Asks the registry which span of shards this node should hold (`serving`: where the span it holds
 * starts, when it asks whether to move); rejects with the registry's reason (a TesseraError).
 */
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
  let nodes: readonly ListedNode[];
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
  const span = assignedSpan(options.registry, manifest, assigned);
  log('shard_assignment', {
    modelId: options.modelId,
    shard: span.start,
    shardEnd: span.end,
    layers: `${assigned.layerStart}-${assigned.layerEnd - 1}`,
    shardRole: assigned.role,
    held,
    freeBytes,
  });
  writeFileSync(join(dir, MANIFEST_FILE), manifestJson);
  const sources = spanSources(nodes, options.key.address, options.registry);
  const rangeUrl = rangeSource(options, manifest);
  // Every node holds the tokenizer: those holding the span's first shard are as good as any.
  const tokenizer = await fetchTokenizer(rangeUrl, manifest, sources(span.start), options);
  const shards = await fetchSpan({
    modelId: options.modelId,
    manifest,
    span,
    dir,
    tokenizerPath: tokenizer.path,
    ...(rangeUrl === undefined ? {} : { rangeUrl }),
    sources,
    log,
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  });
  const files = [tokenizer, ...shards];
  const fetchedBytes = files.reduce((sum, f) => sum + f.fetchedBytes, 0);
  log('shard_files_ready', { modelId: options.modelId, shard: span.start, shardEnd: span.end, dir, fetchedBytes });
  return {
    shardsDir: dir,
    span,
    role: assigned.role,
    manifest,
    files,
    fetchedBytes,
    tokenizerPath: tokenizer.path,
    ...(rangeUrl === undefined ? {} : { rangeUrl }),
  };
}

/**
 * The span an AssignShard reply names, refused unless it is one of the manifest's (ASSIGNMENT_INVALID).
 * A registry that predates spans sends no end: its assignment is one shard.
 */
export function assignedSpan(registry: string, manifest: Manifest, reply: AssignShardReply__Output): ShardSpan {
  const span = { start: reply.shardIndex, end: reply.shardEnd === 0 ? reply.shardIndex + 1 : reply.shardEnd };
  const problem = spanProblem(manifest, span);
  if (problem !== undefined)
    throw new TesseraError('ASSIGNMENT_INVALID', 'failed_precondition', `registry ${registry} assigned ${problem}`);
  return span;
}
