// A real audited network in this process: stories260K cut into shards, a registry (its SQLite file
// also holding the ledger of stakes), one compute node per shard (or per span of them), on 127.0.0.1
// with random ports.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditClient } from '../../src/audit/audit-client.ts';
import type { SessionAudit } from '../../src/audit/session-audit.ts';
import { generateKeyPair, type KeyPair } from '../../src/crypto/keys.ts';
import { LedgerBackend } from '../../src/escrow/ledger-backend.ts';
import type { Manifest } from '../../src/model/manifest.ts';
import { startNode, type NodeHandle, type NodeOptions } from '../../src/node/node-server.ts';
import { shardModel } from '../../src/model/shards/shard.ts';
import { spanOfShard, type ShardSpan } from '../../src/model/shards/span.ts';
import type { Commitment__Output } from '../../src/proto/tessera/v1/Commitment.ts';
import type { Hop } from '../../src/proto/tessera/v1/Hop.ts';
import type { Step } from '../../src/proto/tessera/v1/Step.ts';
import { parseClusterConfig, type ClusterConfig } from '../../src/registry/cluster-config.ts';
import { startRegistry, type RegistryHandle } from '../../src/registry/registry.ts';
import { ForwardClient } from './node-cluster.ts';
import { testModel } from './models.ts';

export interface AuditNetwork {
  readonly dir: string;
  readonly shardsDir: string;
  readonly manifest: Manifest;
  readonly dbPath: string;
  readonly clusterConfig: ClusterConfig;
  readonly registry: RegistryHandle;
  readonly ledger: LedgerBackend;
  readonly nodes: NodeHandle[];
  readonly route: Hop[];
  readonly audits: AuditClient;
  /** The client's key: it opens sessions and signs audit requests. */
  readonly clientKey: KeyPair;
  close(): Promise<void>;
}

export interface AuditNetworkOptions {
  readonly shards: number;
  /** The span each node holds and runs in the route, in route order (default: one node per shard). */
  readonly spans?: readonly ShardSpan[];
  /** The cluster config's `audit` section. */
  readonly audit?: Record<string, unknown>;
  /** The cluster config's `heartbeat` section (default: every second, evicted after 5 missed). */
  readonly heartbeat?: { readonly intervalMs: number; readonly evictAfterMissed: number };
  /** Options of the node of each shard (of the span from `shardIndex`); `registry` is the registry's endpoint. */
  readonly node?: (shardIndex: number, registry: string) => Partial<NodeOptions> | Promise<Partial<NodeOptions>>;
  /** Staked for every node in the ledger. */
  readonly stake?: bigint;
}

export async function startAuditNetwork(options: AuditNetworkOptions): Promise<AuditNetwork> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-audit-'));
  const shardsDir = join(dir, 'shards');
  const manifest = shardModel(testModel('stories260K.gguf'), options.shards, shardsDir);
  const dbPath = join(dir, 'registry.db');
  const spans = options.spans ?? manifest.shards.map((entry) => spanOfShard(entry.index));
  const nodes: NodeHandle[] = [];
  let registry: RegistryHandle | undefined;
  let ledger: LedgerBackend | undefined;
  let audits: AuditClient | undefined;
  let clusterConfig: ClusterConfig;
  const close = async () => {
    audits?.close();
    await Promise.all(nodes.map((n) => n.close()));
    await registry?.close();
    await ledger?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    clusterConfig = parseClusterConfig(
      {
        clusterId: 'audit-test',
        models: [{ id: manifest.modelId, manifest: 'shards' }],
        heartbeat: options.heartbeat ?? { intervalMs: 1000, evictAfterMissed: 5 },
        audit: options.audit ?? {},
      },
      dir,
    );
    ledger = new LedgerBackend({ path: dbPath });
    registry = await startRegistry({ port: 0, host: '127.0.0.1', dbPath, clusterConfig, settlement: ledger });
    for (const span of spans) {
      nodes.push(
        await startNode({
          shardsDir,
          shardIndex: span.start,
          shardEnd: span.end,
          port: 0,
          registry: registry.endpoint,
          key: generateKeyPair(),
          threads: 1,
          drainGraceMs: 5000,
          log: () => {},
          ...(await options.node?.(span.start, registry.endpoint)),
        }),
      );
    }
    if (options.stake !== undefined)
      for (const node of nodes)
        await ledger.grant(node.nodeId, { stake: options.stake }, `0x${randomBytes(32).toString('hex')}`);
    audits = new AuditClient(registry.endpoint);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    dir,
    shardsDir,
    manifest,
    dbPath,
    clusterConfig,
    registry,
    ledger,
    nodes,
    audits,
    close,
    route: nodes.map((n, i) => ({
      nodeId: n.nodeId,
      endpoint: n.endpoint,
      shardIndex: spans[i]!.start,
      shardEnd: spans[i]!.end,
      tls: false,
    })),
    clientKey: generateKeyPair(),
  };
}

/**
 * One audited session through the whole route: Open with the audit commitment, one step from
 * position 0 per prompt (the second on are replays), the reveal, Close. Resolves with each step's
 * commitments once every node has ended the session (so each has handled the reveal).
 */
export async function auditedSession(
  network: AuditNetwork,
  prompts: readonly (readonly number[])[],
  audit: SessionAudit,
): Promise<Commitment__Output[][]> {
  return openAuditedStream(
    network.nodes[0]!.endpoint,
    network,
    audit,
    prompts.map((tokens) => ({ tokens: [...tokens] })),
  );
}

/** The same, opened at any node of the route with hand-made steps (hidden states in any dtype for a later shard). */
export async function openAuditedStream(
  endpoint: string,
  network: AuditNetwork,
  audit: SessionAudit,
  steps: readonly Omit<Step, 'step' | 'startPosition'>[],
): Promise<Commitment__Output[][]> {
  const client = new ForwardClient(endpoint);
  try {
    await client.openSession({
      sessionId: randomUUID(),
      modelId: network.manifest.modelId,
      route: network.route,
      outputMode: 'off',
      sampling: { temperature: 0 },
      clientKey: network.clientKey.publicKey,
      auditCommitment: audit.commitment,
    });
    steps.forEach((step, i) => client.write({ step: { ...step, step: i, startPosition: 0 } }));
    const commitments: Commitment__Output[][] = [];
    for (const _ of steps) {
      const reply = await client.reply();
      if (reply.kind !== 'result') throw new Error(`expected a step result, got ${reply.kind}`);
      commitments.push(reply.result!.commitments);
    }
    client.write(audit.revealRequest()).write({ close: {} });
    for (;;) {
      const item = await client.next();
      if ('end' in item) break;
      if ('error' in item) throw new Error(`session ended with status ${item.error.code}: ${item.error.details}`);
    }
    return commitments;
  } finally {
    client.close();
  }
}

/** `count` token ids of stories260K's vocabulary (512), varied by `seed`. */
export function promptTokens(seed: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => 1 + ((seed * 7919 + i * 104729) % 511));
}
