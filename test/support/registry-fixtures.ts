// Shared by the registry tests: a small sharded-model directory, configs, raw signed calls, DB snapshots.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import Database from 'better-sqlite3';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { KeyPair } from '../../src/crypto/keys.ts';
import type { Manifest } from '../../src/model/manifest.ts';
import { tessera } from '../../src/proto/services.ts';
import {
  signAnnouncement,
  type Announcement,
  type AnnouncementKind,
  type SignedAnnouncement,
} from '../../src/registry/announcement.ts';
import { parseClusterConfig, type ClusterConfig } from '../../src/registry/cluster-config.ts';
import type { AnnouncementBody } from '../../src/registry/registry-client.ts';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `tessera-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * A shards directory as `tessera shard` lays it out: manifest.json (v2), a tokenizer GGUF beside it
 * and shard files. The files hold marker bytes: the registry never opens shard weights.
 */
export function writeShardsDir(
  dir: string,
  modelId: string,
  shardCount: number,
): { manifest: Manifest; tokenizer: Buffer } {
  mkdirSync(dir, { recursive: true });
  const layers = shardCount * 2;
  const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
  const tokenizer = Buffer.concat([Buffer.from('GGUF'), randomBytes(64)]);
  writeFileSync(join(dir, 'tokenizer.gguf'), tokenizer);
  const shards = Array.from({ length: shardCount }, (_, index) => {
    const bytes = Buffer.from(`shard ${index} of ${modelId}`);
    const file = `shard-${index}.gguf`;
    writeFileSync(join(dir, file), bytes);
    return {
      index,
      layerStart: index * 2,
      layerEnd: index * 2 + 2,
      embedding: index === 0,
      head: index === shardCount - 1,
      file,
      bytes: bytes.length,
      sha256: sha(bytes),
    };
  });
  const manifest: Manifest = {
    version: 2,
    modelId,
    architecture: 'llama',
    config: {
      architecture: 'llama',
      vocabSize: 512,
      hiddenSize: 64,
      ffnSize: 172,
      layers,
      heads: 8,
      kvHeads: 4,
      headDim: 8,
      ropeTheta: 10000,
      ropeDim: 8,
      ropeStyle: 'interleaved',
      rmsEps: 1e-5,
      contextLength: 512,
      qkvBias: false,
      tiedEmbeddings: true,
    },
    tokenizerFile: 'tokenizer.gguf',
    tokenizerSha256: sha(tokenizer),
    source: { file: `${modelId}.gguf`, bytes: 1, sha256: sha(Buffer.from(modelId)) },
    shards,
  };
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return { manifest, tokenizer };
}

/** A cluster config serving `tiny` (3 shards) from `dir`/tiny, with overrides on top. */
export function testClusterConfig(dir: string, overrides: Record<string, unknown> = {}): ClusterConfig {
  return parseClusterConfig(
    { clusterId: 'test', models: [{ id: 'tiny', manifest: 'tiny', pricePer1kTokens: 7 }], ...overrides },
    dir,
  );
}

export function nodeBody(key: KeyPair, overrides: Partial<AnnouncementBody> = {}): AnnouncementBody {
  return {
    role: 'node',
    modelId: 'tiny',
    shardIndex: 1,
    shareKey: bytesToHex(key.publicKey),
    endpoint: '127.0.0.1:50101',
    tls: false,
    capabilities: {
      tier: 'cpu-small',
      cpuCores: 4,
      memoryGiB: 8,
      gpu: 'none',
      region: 'eu',
      workloads: ['text'],
      clientVersion: '0.1.0',
    },
    load: { activeSessions: 0, maxSessions: 8, computeUsPerToken: 120 },
    pricePer1kTokens: 5,
    ...overrides,
  };
}

export function announcement(
  key: KeyPair,
  kind: AnnouncementKind,
  body: AnnouncementBody,
  overrides: Partial<Announcement> = {},
): Announcement {
  return {
    ...body,
    kind,
    nodeId: key.address,
    timestampMs: Date.now(),
    nonce: randomBytes(16).toString('hex'),
    ...overrides,
  };
}

/** Calls Register/Heartbeat/Unregister with exactly these bytes, bypassing the client's own signing. */
export function sendSigned(
  endpoint: string,
  method: 'register' | 'heartbeat' | 'unregister',
  signed: SignedAnnouncement,
): Promise<unknown> {
  const client = new tessera.v1.Registry(endpoint, credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client[method](
      { payload: signed.payload, signature: signed.signature },
      (error: ServiceError | null, reply?: unknown) => {
        client.close();
        if (error) reject(error);
        else resolve(reply);
      },
    );
  });
}

export function sign(key: KeyPair, a: Announcement): SignedAnnouncement {
  return signAnnouncement(key, a);
}

/** Every row of the registry's tables, read through a second connection (as an operator would). */
export function snapshot(dbPath: string): Record<string, unknown[]> {
  const db = new Database(dbPath, { readonly: true });
  try {
    const tables = ['nodes', 'nonces', 'manifests', 'peers', 'meta'];
    return Object.fromEntries(tables.map((t) => [t, db.prepare(`SELECT * FROM ${t} ORDER BY 1`).all()]));
  } finally {
    db.close();
  }
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
