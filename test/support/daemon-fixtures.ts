// Shared by the daemon tests and the chain benchmark: a registry with a Membership service beside
// it, registered nodes, sessions of shares, and what an in-process daemon needs of the registry.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type Server as NetServer, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import Database from 'better-sqlite3';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { DaemonOptions } from '../../src/chain/daemon.ts';
import { membershipHandlers, type MemberDirectory } from '../../src/chain/membership-service.ts';
import { RegistryMembership, type Member } from '../../src/chain/membership.ts';
import { receiptHashOf, signReceipt } from '../../src/protocol/receipt.ts';
import type { SignedRecord } from '../../src/protocol/record.ts';
import { encodeShare, sessionHashOf, WEIGHT_ONE } from '../../src/protocol/share.ts';
import { registryEnrollment } from '../../src/cli/daemon-enrollment.ts';
import type { KeyPair } from '../../src/crypto/keys.ts';
import { tessera } from '../../src/proto/services.ts';
import { startRegistry, type RegistryHandle } from '../../src/registry/registry.ts';
import { RegistryClient, startHeartbeats } from '../../src/registry/registry-client.ts';
import { nodeBody, testClusterConfig, writeShardsDir } from './registry-fixtures.ts';

/**
 * Members as the registry's database holds them, read through a second connection. Stands in for
 * the registry serving Membership itself; the answers are the same records.
 */
export function registryDirectory(dbPath: string, silenceMs: number): MemberDirectory & { close(): void } {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  type Row = Omit<Member, 'status' | 'tls'> & { status: string; tls: number };
  const columns = `node_id AS nodeId, role, model_id AS modelId, shard_index AS shardIndex, share_key AS shareKey, endpoint, tls, status, last_seen_ms AS lastSeenMs`;
  return {
    members(nodeIds, liveRole) {
      const now = Date.now();
      const rows = [
        ...(nodeIds.length === 0
          ? []
          : (db
              .prepare(`SELECT ${columns} FROM nodes WHERE node_id IN (${nodeIds.map(() => '?').join(',')})`)
              .all(...nodeIds) as Row[])),
        ...(liveRole === ''
          ? []
          : (db
              .prepare(`SELECT ${columns} FROM nodes WHERE role = ? AND status = 'live' AND last_seen_ms >= ?`)
              .all(liveRole, now - silenceMs) as Row[])),
      ];
      return rows.map((r) => ({
        ...r,
        tls: r.tls === 1,
        status: r.status === 'live' && r.lastSeenMs >= now - silenceMs ? 'live' : 'evicted',
      }));
    },
    close: () => db.close(),
  };
}

export interface ChainNetwork {
  readonly registry: string;
  readonly membership: string;
  readonly registryDb: string;
  close(): Promise<void>;
}

/** A registry serving the 3-shard model `tiny`, and a Membership service over its database. */
export async function startChainNetwork(dir: string, heartbeatMs = 300): Promise<ChainNetwork> {
  writeShardsDir(join(dir, 'tiny'), 'tiny', 3);
  const registryDb = join(dir, 'registry.db');
  const registry: RegistryHandle = await startRegistry({
    port: 0,
    dbPath: registryDb,
    clusterConfig: testClusterConfig(dir, {
      heartbeat: { intervalMs: heartbeatMs, evictAfterMissed: 3 },
      rateLimit: { perSecond: 1000, burst: 1000 },
    }),
  });
  const directory = registryDirectory(registryDb, heartbeatMs * 3);
  const server = new Server();
  server.addService(tessera.v1.Membership.service, membershipHandlers(directory));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return {
    registry: registry.endpoint,
    membership: `127.0.0.1:${port}`,
    registryDb,
    close: async () => {
      server.forceShutdown();
      directory.close();
      await registry.close();
    },
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

/** Registers a compute node of `tiny` and keeps it live with heartbeats (unless `heartbeats` is false). */
export async function joinNode(
  registry: string,
  key: KeyPair,
  shardIndex: number,
  heartbeats = true,
): Promise<() => Promise<void>> {
  const client = new RegistryClient(registry);
  const body = nodeBody(key, {
    shardIndex,
    shareKey: bytesToHex(key.publicKey),
    endpoint: `127.0.0.1:${50100 + shardIndex}`,
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

/** A client's session on `tiny`: its signed receipt, and shares of it (payloads: nodes sign them a batch at a time). */
export class TestSession {
  readonly sessionHash: string;
  readonly receipt: SignedRecord;
  readonly receiptHash: string;
  #next = 0;

  constructor(client: KeyPair, id: string, tokensPerShard: readonly number[] = [1_000_000, 1_000_000, 1_000_000]) {
    this.sessionHash = sessionHashOf(id);
    this.receipt = signReceipt(client, {
      sessionHash: this.sessionHash,
      modelId: 'tiny',
      tokensPerShard,
      timestampMs: Date.now(),
    });
    this.receiptHash = receiptHashOf(this.receipt.payload).toString('hex');
  }

  /** A new share of this session (distinct by its timestamp counter). */
  share(node: KeyPair, shardIndex: number, tokens = 1, overrides: Record<string, unknown> = {}): Uint8Array {
    return encodeShare({
      nodeId: node.address,
      shardIndex,
      tokensProcessed: tokens,
      weight: WEIGHT_ONE,
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
