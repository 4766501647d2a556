import { credentials as grpcCredentials, type ServiceError } from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../core/log.ts';
import type { KeyPair } from '../crypto/keys.ts';
import { MANIFEST_FILE, parseManifest, type Manifest } from '../model/manifest.ts';
import { tessera } from '../proto/services.ts';
import type { AssignShardReply__Output } from '../proto/tessera/v1/AssignShardReply.ts';
import type { RegistryClient as GrpcRegistryClient } from '../proto/tessera/v1/Registry.ts';
import { fromServiceError } from '../rpc/status.ts';
import { RegistryClient } from '../registry/registry-client.ts';
import { signAssignShardRequest } from '../registry/shard-assignment-request.ts';
import { fetchModelFile, type FetchedFile } from './shard-fetch.ts';

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
  // Nodes serving the shard already hand it out too (in a random order, to spread the load); the
  // registry is the last resort. Whatever a source sends is checked against the manifest.
  const peers = nodes
    .filter((n) => n.shardIndex === entry.index && n.nodeId !== options.key.address)
    .map((n) => ({ ...n, order: Math.random() }))
    .sort((a, b) => a.order - b.order);
  const sources = [...peers.map((n) => n.endpoint), options.registry];
  const tls = new Set(peers.filter((n) => n.tls).map((n) => n.endpoint));
  const files: FetchedFile[] = [];
  for (const want of [
    { file: manifest.tokenizerFile, sha256: manifest.tokenizerSha256 ?? '' },
    { file: entry.file, sha256: entry.sha256, ...(entry.bytes === undefined ? {} : { bytes: entry.bytes }) },
  ])
    files.push(
      await fetchModelFile(
        { modelId: options.modelId, ...want },
        {
          sources,
          tls,
          dir,
          log,
          ...(options.onProgress === undefined
            ? {}
            : { onProgress: (held, total) => options.onProgress!(want.file, held, total) }),
        },
      ),
    );
  const fetchedBytes = files.reduce((sum, f) => sum + f.fetchedBytes, 0);
  log('shard_files_ready', { modelId: options.modelId, shard: assigned.shardIndex, dir, fetchedBytes });
  return { shardsDir: dir, shardIndex: assigned.shardIndex, role: assigned.role, manifest, files, fetchedBytes };
}
