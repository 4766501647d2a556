// Shared by the daemon tests and the chain benchmark: a registry with its Membership service, registered nodes, sessions of shares, and what an in-process daemon needs of the registry.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type Server as NetServer, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { DaemonOptions } from '../../src/chain/daemon.ts';
import { RegistryMembership } from '../../src/chain/membership.ts';
import { receiptHashOf, signReceipt } from '../../src/protocol/receipt.ts';
import type { SignedRecord } from '../../src/protocol/record.ts';
import { encodeShare, sessionHashOf } from '../../src/protocol/share.ts';
import { registryEnrollment } from '../../src/cli/daemon-enrollment.ts';
import { generateKeyPair, type KeyPair } from '../../src/crypto/keys.ts';
import { spanOfShard, type ShardSpan } from '../../src/model/shards/span.ts';
import { startRegistry, type RegistryHandle, type RegistryOptions } from '../../src/registry/registry.ts';
import { RegistryClient, startHeartbeats } from '../../src/registry/registry-client.ts';
import { nodeBody, testClusterConfig, writeShardsDir } from './registry-fixtures.ts';

export interface ChainNetwork {
  readonly registry: string;
  /** Where daemons ask for members and rosters: the registry's own Membership service. */
  readonly membership: string;
  readonly registryDb: string;
  /** The key the registry signs rosters with (the cluster lists no registryKeys, so it is the one authority). */
  readonly registryKey: KeyPair;
  close(): Promise<void>;
}

export interface ChainNetworkOptions {
  /** Where the registry reads stakes and takes slashes; none: every live daemon leads at weight 1. */
  readonly settlement?: Pick<RegistryOptions, 'settlement' | 'stakes'>;
  /** The cluster's stake minimum for daemons. */
  readonly daemonMinimum?: bigint;
}

/** A registry serving the 3-shard model `tiny`, with its Membership service (members, rosters, equivocation reports). */
export async function startChainNetwork(
  dir: string,
  heartbeatMs = 300,
  options: ChainNetworkOptions = {},
): Promise<ChainNetwork> {
  writeShardsDir(join(dir, 'tiny'), 'tiny', 3);
  const registryDb = join(dir, 'registry.db');
  const registryKey = generateKeyPair();
  const config = testClusterConfig(dir, {
    heartbeat: { intervalMs: heartbeatMs, evictAfterMissed: 3 },
    rateLimit: { perSecond: 1000, burst: 1000 },
  });
  const registry: RegistryHandle = await startRegistry({
    port: 0,
    dbPath: registryDb,
    key: registryKey,
    clusterConfig:
      options.daemonMinimum === undefined
        ? config
        : {
            ...config,
            stake: { ...config.stake, minimum: { ...config.stake.minimum, daemon: options.daemonMinimum } },
          },
    // Daemons without a membership cache look members up for every batch and block.
    rateLimits: { read: { perSecond: 100_000, burst: 100_000 } },
    ...options.settlement,
  });
  return {
    registry: registry.endpoint,
    membership: registry.endpoint,
    registryDb,
    registryKey,
    close: () => registry.close(),
  };
}

/** What `tessera daemon` passes an in-process daemon of the network: membership (not cached), and enrollment at the registry with `key`. */
export function daemonRegistry(
  network: ChainNetwork,
  key: KeyPair,
): Pick<DaemonOptions, 'membership' | 'enrollment' | 'key'> {
  return {
    membership: new RegistryMembership(network.membership, { ttlMs: 0 }),
    enrollment: registryEnrollment(network.registry, key, () => {}),
    key,
  };
}

/**
 * Registers a compute node of `tiny` holding `held` (a shard's index, or a span of shards) and keeps
 * it live with heartbeats (unless `heartbeats` is false).
 */
export async function joinNode(
  registry: string,
  key: KeyPair,
  held: number | ShardSpan,
  heartbeats = true,
): Promise<() => Promise<void>> {
  const span = typeof held === 'number' ? spanOfShard(held) : held;
  const client = new RegistryClient(registry);
  const body = nodeBody(key, {
    shardIndex: span.start,
    shardEnd: span.end,
    shareKey: bytesToHex(key.publicKey),
    endpoint: `127.0.0.1:${50100 + span.start}`,
  });
  const reply = await client.register(key, body);
  const stop = heartbeats
    ? startHeartbeats(client, key, () => body, { intervalMs: reply.heartbeatIntervalMs })
    : async () => {};
  return async () => {
    await stop();
    client.close();
  };
}

/**
 * A client's session on `tiny` (or `modelId`) through `route` (the node of each hop, whom its receipt pays for the
 * tokens through that hop): its signed receipt, and shares of it (payloads: nodes sign them a batch
 * at a time).
 */
export class TestSession {
  readonly sessionHash: string;
  readonly receipt: SignedRecord;
  readonly receiptHash: string;
  #next = 0;

  constructor(
    client: KeyPair,
    id: string,
    route: readonly KeyPair[],
    tokensPerShard: readonly number[] = route.map(() => 1_000_000),
    modelId = 'tiny',
  ) {
    this.sessionHash = sessionHashOf(id);
    this.receipt = signReceipt(client, {
      sessionHash: this.sessionHash,
      modelId,
      tokensPerShard,
      route: route.map((node) => node.address),
      timestampMs: Date.now(),
    });
    this.receiptHash = receiptHashOf(this.receipt.payload).toString('hex');
  }

  /** A new share of this session by `node` as the route's hop `shardIndex` (distinct by its timestamp counter). */
  share(node: KeyPair, shardIndex: number, tokens = 1, overrides: Record<string, unknown> = {}): Uint8Array {
    return encodeShare({
      nodeId: node.address,
      shardIndex,
      tokensProcessed: tokens,
      timestampMs: 1_700_000_000_000 + this.#next++,
      sessionHash: this.sessionHash,
      receiptHash: this.receiptHash,
      ...overrides,
    });
  }
}

/** A TCP relay to a daemon, so a test can cut it off from its peers and let it back. */
export class Relay {
  readonly #server: NetServer;
  readonly #sockets = new Set<Socket>();
  #cut = false;
  port = 0;

  /** `target` gives the daemon's port once it listens. */
  constructor(private readonly target: () => number | undefined) {
    this.#server = createServer((socket) => {
      const port = this.target();
      if (this.#cut || port === undefined) return socket.destroy();
      const upstream = connect(port, '127.0.0.1');
      for (const s of [socket, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      socket.pipe(upstream).pipe(socket);
      socket.on('close', () => upstream.destroy());
      upstream.on('close', () => socket.destroy());
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as { port: number }).port;
    return `127.0.0.1:${this.port}`;
  }

  cut(): void {
    this.#cut = true;
    for (const s of this.#sockets) s.destroy();
  }

  heal(): void {
    this.#cut = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** `tessera daemon ARGS` in a child process; resolves once it logs daemon_started, with that event's fields. */
export async function spawnDaemon(
  args: readonly string[],
): Promise<{ child: ChildProcess; endpoint: string; started: Record<string, unknown>; exited: Promise<unknown> }> {
  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, '..', '..', 'bin', 'tessera.js'), 'daemon', ...args],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const tail: string[] = [];
  const started = await new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on('line', (line) => {
      tail.push(line);
      if (line.includes('"event":"daemon_started"')) resolve(JSON.parse(line) as Record<string, unknown>);
    });
    void exited.then(() => reject(new Error(`the daemon exited before it started:\n${tail.join('\n')}`)));
  });
  return { child, endpoint: String(started.endpoint), started, exited };
}
