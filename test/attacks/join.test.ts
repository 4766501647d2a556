// Attacks on joining (issue 12) by strangers with their own valid keys, against a registry on
// loopback that serves a model's files (GetShard) and assigns shards (AssignShard): names that climb
// out of the model's directory or that the manifest does not list, an unknown model, an offset past
// the end, more concurrent streams than one address may hold, an assignment asked by an unstaked key,
// and a peer serving corrupted bytes. Each is refused with its status and reason (or, for the corrupt
// peer, caught by the fetching node), nothing is held or served for it, and an honest fetch or
// assignment made meanwhile succeeds.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentials, status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import Database from 'better-sqlite3';
import { TesseraError } from '../../src/core/errors.ts';
import { generateKeyPair, type KeyPair } from '../../src/crypto/keys.ts';
import { LedgerBackend } from '../../src/escrow/ledger-backend.ts';
import type { Manifest } from '../../src/model/manifest.ts';
import { assignShard } from '../../src/node/shard-fetch-join.ts';
import { fetchModelFile } from '../../src/node/shard-fetch.ts';
import { tessera } from '../../src/proto/services.ts';
import type { ShardChunk__Output } from '../../src/proto/tessera/v1/ShardChunk.ts';
import type { ShardFilesClient } from '../../src/proto/tessera/v1/ShardFiles.ts';
import { startRegistry } from '../../src/registry/registry.ts';
import { RegistryClient } from '../../src/registry/registry-client.ts';
import { shardFilesHandlers } from '../../src/registry/shard-server.ts';
import { startGrpcServer } from '../../src/rpc/server.ts';
import { reasonOf } from '../../src/rpc/status.ts';
import { removeDir, tempDir, testClusterConfig, waitFor, writeShardsDir } from '../support/registry-fixtures.ts';

const dir = tempDir('attack-join');
const modelDir = join(dir, 'tiny');
const { manifest: small } = writeShardsDir(modelDir, 'tiny', 3);
// Shard 1 large enough that a stream whose reader stops stays open on flow control: beyond what the
// client's and the server's stream buffers (16 chunks of 1 MiB each) and the HTTP/2 window hold.
const big = Buffer.concat([randomBytes(1 << 20), Buffer.alloc(47 << 20, 'tessera')]);
writeFileSync(join(modelDir, 'shard-1.gguf'), big);
const manifest: Manifest = {
  ...small,
  shards: small.shards.map((s) =>
    s.index === 1 ? { ...s, bytes: big.length, sha256: createHash('sha256').update(big).digest('hex') } : s,
  ),
};
writeFileSync(join(modelDir, 'manifest.json'), JSON.stringify(manifest));
// A file beside the manifest that the manifest does not list: never served either.
writeFileSync(join(modelDir, 'secret.txt'), 'operator notes');

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  removeDir(dir);
});

const MINIMUM_NODE_STAKE = 100n;
const dbPath = join(dir, 'registry.db');
const operator = generateKeyPair();
const ledger = new LedgerBackend({ path: dbPath, unstakeCooldownS: 0, challengeWindowS: 0 });
// Every interface, so that a second peer address (::1) reaches it beside 127.0.0.1.
const registry = await startRegistry({
  port: 0,
  host: '::',
  dbPath,
  settlement: ledger,
  stakes: ledger,
  accounts: ledger,
  shardStreams: { perPeer: 2, total: 16 },
  clusterConfig: testClusterConfig(dir, {
    stake: { minimum: { node: Number(MINIMUM_NODE_STAKE), daemon: 0, verifier: 0 }, unstakeCooldownS: 0 },
    challengeWindowS: 0,
    operatorKeys: [operator.address],
    rateLimit: { perSecond: 1000, burst: 1000 },
  }),
});
const client = new RegistryClient(registry.endpoint);
cleanups.push(async () => {
  client.close();
  await registry.close();
  await ledger.close();
});
const v4 = `127.0.0.1:${registry.port}`;
const v6 = `[::1]:${registry.port}`;

/** A raw GetShard stream, as an attacker's own client would open it. */
function rawStream(endpoint: string, request: { modelId: string; file: string; offset: number }) {
  const raw = new tessera.v1.ShardFiles(endpoint, credentials.createInsecure()) as unknown as ShardFilesClient;
  const call = raw.getShard(request) as ClientReadableStream<ShardChunk__Output>;
  return { raw, call };
}

/** The whole answer to one GetShard: its bytes, or its error. */
function getShard(
  endpoint: string,
  request: { modelId: string; file: string; offset: number },
): Promise<{ bytes: Buffer } | { error: ServiceError }> {
  const { raw, call } = rawStream(endpoint, request);
  const chunks: Buffer[] = [];
  return new Promise((resolve) => {
    call.on('data', (chunk: ShardChunk__Output) => chunks.push(Buffer.from(chunk.data)));
    call.on('error', (error: ServiceError) => {
      raw.close();
      resolve({ error });
    });
    call.on('end', () => {
      raw.close();
      resolve({ bytes: Buffer.concat(chunks) });
    });
  });
}

function assertRefused(answer: { bytes: Buffer } | { error: ServiceError }, code: status, reason: string): void {
  assert.ok('error' in answer, `served ${'bytes' in answer ? answer.bytes.length : 0} bytes instead of refusing`);
  assert.equal(status[answer.error.code], status[code], answer.error.details);
  assert.equal(reasonOf(answer.error), reason, answer.error.details);
}

const events: { event: string; fields: Record<string, unknown> }[] = [];
const log = (event: string, fields: Record<string, unknown> = {}) => events.push({ event, fields });

/** An honest node's download of `file` into a fresh directory: its bytes must be the registry's. */
async function honestFetch(endpoint: string, index: number, busyRetries?: number) {
  const into = join(dir, `honest-${randomBytes(4).toString('hex')}`);
  mkdirSync(into);
  const entry = manifest.shards[index]!;
  const fetched = await fetchModelFile(
    { modelId: 'tiny', file: entry.file, bytes: entry.bytes, sha256: entry.sha256 },
    { sources: [endpoint], dir: into, log, ...(busyRetries === undefined ? {} : { busyRetries }) },
  );
  assert.deepEqual(readFileSync(fetched.path), readFileSync(join(modelDir, entry.file)));
  return fetched;
}

test('GetShard refuses names outside the manifest, an unknown model and an offset past the end; an honest fetch meanwhile succeeds', async () => {
  const names = [
    '../registry.db',
    '/etc/passwd',
    '../../../../../etc/passwd',
    'secret.txt',
    'manifest.json',
    'shard-0.gguf/',
    'shard-0.gguf\u0000',
  ];
  const [honest, ...answers] = await Promise.all([
    honestFetch(v4, 0),
    ...names.map((file) => getShard(v4, { modelId: 'tiny', file, offset: 0 })),
    getShard(v4, { modelId: 'no-such-model', file: 'shard-0.gguf', offset: 0 }),
    getShard(v4, { modelId: 'tiny', file: 'shard-0.gguf', offset: manifest.shards[0]!.bytes + 1 }),
  ]);
  for (const [i, name] of names.entries()) {
    assertRefused(answers[i]!, status.NOT_FOUND, 'UNKNOWN_FILE');
    assert.match(
      (answers[i] as { error: ServiceError }).error.details,
      /is not a file of model "tiny" served here/,
      name,
    );
  }
  assertRefused(answers[names.length]!, status.NOT_FOUND, 'UNKNOWN_MODEL');
  assertRefused(answers[names.length + 1]!, status.INVALID_ARGUMENT, 'OFFSET_PAST_END');
  assert.equal(honest.fetchedBytes, manifest.shards[0]!.bytes);
  // The end itself is a valid offset (a complete file resumed): nothing more to send.
  const atEnd = await getShard(v4, { modelId: 'tiny', file: 'shard-0.gguf', offset: manifest.shards[0]!.bytes });
  assert.deepEqual(atEnd, { bytes: Buffer.alloc(0) });
});

test('a third concurrent stream from one address is refused TOO_MANY_STREAMS while another address fetches', async () => {
  // Two streams whose reader stops after the first chunk: flow control keeps them open.
  const held = [
    rawStream(v4, { modelId: 'tiny', file: 'shard-1.gguf', offset: 0 }),
    rawStream(v4, { modelId: 'tiny', file: 'shard-1.gguf', offset: 0 }),
  ];
  await Promise.all(
    held.map(
      ({ call }) =>
        new Promise<void>((resolve, reject) => {
          call.once('data', () => {
            call.pause();
            resolve();
          });
          call.once('error', reject);
        }),
    ),
  );
  const [third, other] = await Promise.all([
    getShard(v4, { modelId: 'tiny', file: 'shard-0.gguf', offset: 0 }),
    honestFetch(v6, 2, 0),
  ]);
  assertRefused(third, status.RESOURCE_EXHAUSTED, 'TOO_MANY_STREAMS');
  assert.match((third as { error: ServiceError }).error.details, /at most 2 per address/);
  assert.equal(other.fetchedBytes, manifest.shards[2]!.bytes);
  for (const { raw, call } of held) {
    call.on('error', () => undefined);
    call.cancel();
    raw.close();
  }
  // Once they are gone the address is served again (the fetcher waits its turn while they wind down).
  assert.equal((await honestFetch(v4, 0)).fetchedBytes, manifest.shards[0]!.bytes);
});

/** What the registry holds about `address`: its registration and the nonces it signed. */
function holdings(address: string) {
  const db = new Database(dbPath, { readonly: true });
  try {
    return {
      node: db.prepare('SELECT node_id FROM nodes WHERE node_id = ?').all(address),
      nonces: db.prepare('SELECT nonce FROM nonces WHERE node_id = ?').all(address),
    };
  } finally {
    db.close();
  }
}

const request = (held: number[] = []) => ({
  modelId: 'tiny',
  freeBytes: 1 << 30,
  kvBudgetBytes: 1 << 20,
  tier: 'unmeasured',
  held,
});

async function refusedWith(call: Promise<unknown>, code: status, reason: string): Promise<TesseraError> {
  const error = await call.then(
    () => assert.fail(`the registry assigned a shard instead of refusing ${reason}`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof TesseraError, String(error));
  assert.equal(error.code, reason, error.message);
  assert.equal(status[(error.cause as ServiceError).code], status[code], error.message);
  return error;
}

test('AssignShard from an unstaked key is refused STAKE_BELOW_MINIMUM and holds no shard; honest nodes meanwhile are assigned', async () => {
  const staked = async () => {
    const key = generateKeyPair();
    await client.grant(operator, key.address, { stake: MINIMUM_NODE_STAKE });
    return key;
  };
  const first: KeyPair = await staked();
  const second: KeyPair = await staked();
  const attacker = generateKeyPair();
  const before = holdings(attacker.address);
  const [firstShard, refusal] = await Promise.all([
    assignShard(registry.endpoint, first, request()),
    refusedWith(assignShard(registry.endpoint, attacker, request()), status.FAILED_PRECONDITION, 'STAKE_BELOW_MINIMUM'),
  ]);
  assert.match(refusal.message, /below the node minimum 100/);
  assert.deepEqual(holdings(attacker.address), before);
  assert.equal(firstShard.shardIndex, 0);
  // Had the attacker been given a hold, shard 1 would be taken and the next node sent to shard 2.
  const secondShard = await assignShard(registry.endpoint, second, request());
  assert.equal(secondShard.shardIndex, 1);
  assert.equal(secondShard.role, 'worker');

  // A staked key asking for a model nobody serves, or with no room for any shard: precise refusals too.
  const third = await staked();
  await refusedWith(
    assignShard(registry.endpoint, third, { ...request(), modelId: 'no-such-model' }),
    status.NOT_FOUND,
    'UNKNOWN_MODEL',
  );
  const tooSmall = await refusedWith(
    assignShard(registry.endpoint, third, { ...request(), freeBytes: 1 << 20 }),
    status.FAILED_PRECONDITION,
    'NO_SHARD_FITS',
  );
  assert.match(tooSmall.message, /no shard of tiny fits 1 MiB free/);
  assert.equal((await assignShard(registry.endpoint, third, request())).shardIndex, 2);
});

test('a peer serving corrupted bytes: the fetching node rejects them, keeps nothing of them and fetches them from the registry', async () => {
  // The peer is an ordinary GetShard server of a copy of the model whose shard 1 has one byte flipped.
  const evilDir = join(dir, 'evil');
  mkdirSync(evilDir);
  const corrupted = Buffer.from(big);
  corrupted[corrupted.length >> 1] ^= 0xff;
  writeFileSync(join(evilDir, 'shard-1.gguf'), corrupted);
  const evil = await startGrpcServer({
    role: 'evil peer',
    port: 0,
    services: [
      {
        name: 'tessera.v1.ShardFiles',
        definition: tessera.v1.ShardFiles.service,
        handlers: shardFilesHandlers({ models: new Map([['tiny', { manifest, dir: evilDir }]]) }),
      },
    ],
  });
  cleanups.push(() => evil.shutdown());
  const entry = manifest.shards[1]!;
  const want = { modelId: 'tiny', file: entry.file, bytes: entry.bytes, sha256: entry.sha256 };

  const only = join(dir, 'node-evil-only');
  mkdirSync(only);
  const refusal = await fetchModelFile(want, { sources: [evil.endpoint], dir: only, log }).then(
    () => assert.fail('the node kept bytes that do not match the manifest'),
    (e: unknown) => e as TesseraError,
  );
  assert.equal(refusal.code, 'SHARD_HASH_MISMATCH');
  assert.match(refusal.message, /the manifest says \d+ bytes and [0-9a-f]{64}: deleted, not served/);
  assert.equal(existsSync(join(only, entry.file)), false);
  assert.equal(existsSync(join(only, `${entry.file}.part`)), false);

  const into = join(dir, 'node-evil-then-registry');
  mkdirSync(into);
  events.length = 0;
  const fetched = await fetchModelFile(want, { sources: [evil.endpoint, registry.endpoint], dir: into, log });
  assert.deepEqual(readFileSync(fetched.path), big);
  assert.equal(fetched.fetchedBytes, 2 * big.length);
  const rejected = events.find((e) => e.event === 'shard_file_rejected');
  assert.equal(rejected?.fields.source, evil.endpoint);
  assert.equal(events.find((e) => e.event === 'shard_file_fetched')?.fields.source, registry.endpoint);
});

test('a caller that stops reading loses its stream (STREAM_STALLED) and its slot, which an honest fetch then gets', async () => {
  const server = await startGrpcServer({
    role: 'shard server',
    port: 0,
    services: [
      {
        name: 'tessera.v1.ShardFiles',
        definition: tessera.v1.ShardFiles.service,
        handlers: shardFilesHandlers({
          models: new Map([['tiny', { manifest, dir: modelDir }]]),
          maxStreamsPerPeer: 1,
          stallMs: 300,
        }),
      },
    ],
  });
  cleanups.push(() => server.shutdown());
  const { raw, call } = rawStream(server.endpoint, { modelId: 'tiny', file: 'shard-1.gguf', offset: 0 });
  const errored = new Promise<ServiceError>((resolve) => call.once('error', resolve));
  await new Promise<void>((resolve) =>
    call.once('data', () => {
      call.pause();
      resolve();
    }),
  );
  // Its one slot frees once the server gives up on it: until then the same address is refused.
  const fetched = await waitFor(
    'the stalled stream to lose its slot',
    () => honestFetch(server.endpoint, 0, 0).catch(() => undefined),
    20_000,
  );
  assert.equal(fetched.fetchedBytes, manifest.shards[0]!.bytes);
  // What it had buffered, then the reason it was ended.
  call.on('data', () => undefined);
  call.resume();
  const stalled = await errored;
  raw.close();
  assert.equal(status[stalled.code], status[status.DEADLINE_EXCEEDED], stalled.details);
  assert.equal(reasonOf(stalled), 'STREAM_STALLED');
});
