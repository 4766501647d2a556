// Attacks on joining (issue 12) by strangers with their own valid keys, against a registry on
// loopback that serves a model's files (GetShard) and assigns shards (AssignShard): names that climb
// out of the model's directory or that the manifest does not list, an unknown model, an offset past
// the end, more concurrent streams than one address may hold, an assignment asked by an unstaked key,
// and a peer serving corrupted bytes. Each is refused with its status and reason (or, for the corrupt
// peer, caught by the fetching node), nothing is held or served for it, and an honest fetch or
// assignment made meanwhile succeeds. And a model's origin (HTTP ranges of its GGUF) that alters a
// tensor, ignores ranges, sends more than asked or redirects to http: refused with its reason. And a
// registry (or a redirect) aiming joining nodes at hosts on their own network: refused before any
// connection, the files taken from the registry.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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
import { sha256File } from '../../src/crypto/hash.ts';
import { shardTensors } from '../../src/model/shards/assemble.ts';
import { shardModel } from '../../src/model/shards/shard.ts';
import { fetchShardByRanges, fetchTokenizerByRange } from '../../src/node/range-fetch-shard.ts';
import { joinNetwork } from '../../src/node/shard-fetch-join.ts';
import { parseClusterConfig } from '../../src/registry/cluster-config.ts';
import { testModel } from '../support/models.ts';
import {
  startRangeFileServer,
  type RangeFileServer,
  type RangeFileServerOptions,
} from '../support/range-file-server.ts';
import { startModelRegistry } from '../support/model-registry.ts';
import { selfSignedCert } from '../support/tls-certs.ts';
import { readRange } from '../../src/node/range-fetch.ts';
import { fromRegistry, nonPublicClass } from '../../src/node/range-fetch-url.ts';

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

// Room for shard 1 (48 MiB) beside the KV budget, never for two shards: each node is given one.
const request = (held: number[] = [], largest = big.length) => ({
  modelId: 'tiny',
  freeBytes: (1 << 20) + largest,
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
  assert.deepEqual([firstShard.shardIndex, firstShard.shardEnd], [0, 1]);
  // Had the attacker been given a hold, shard 1 would be taken and the next node sent to shard 2.
  const secondShard = await assignShard(registry.endpoint, second, request());
  assert.deepEqual([secondShard.shardIndex, secondShard.shardEnd], [1, 2]);
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

test('AssignShard holds: a staked key asking again and again holds one shard, more keys past the cap are refused ASSIGNMENT_HOLDS_FULL, and honest joins meanwhile succeed', async () => {
  // A registry of its own, holding at most 3 assignments, whose per-key rate lets a flood through to
  // the assigner: the bound under test is the holds', not the rate limit's.
  const holdsDir = join(dir, 'holds');
  const { manifest: holdsManifest } = writeShardsDir(join(holdsDir, 'tiny'), 'tiny', 3);
  // Room for one of its shards, not two.
  const oneShard = () => request([], Math.max(...holdsManifest.shards.map((e) => e.bytes)));
  const holdsDb = join(holdsDir, 'registry.db');
  const holdsLedger = new LedgerBackend({ path: holdsDb, unstakeCooldownS: 0, challengeWindowS: 0 });
  const holdsRegistry = await startRegistry({
    port: 0,
    dbPath: holdsDb,
    settlement: holdsLedger,
    stakes: holdsLedger,
    accounts: holdsLedger,
    assignmentHolds: 3,
    rateLimits: { 'announce-key': { perSecond: 1000, burst: 1000 } },
    clusterConfig: testClusterConfig(holdsDir, {
      stake: { minimum: { node: Number(MINIMUM_NODE_STAKE), daemon: 0, verifier: 0 }, unstakeCooldownS: 0 },
      challengeWindowS: 0,
      operatorKeys: [operator.address],
      rateLimit: { perSecond: 1000, burst: 1000 },
    }),
  });
  const holdsClient = new RegistryClient(holdsRegistry.endpoint);
  cleanups.push(async () => {
    holdsClient.close();
    await holdsRegistry.close();
    await holdsLedger.close();
  });
  const endpoint = holdsRegistry.endpoint;
  const staked = async () => {
    const key = generateKeyPair();
    await holdsClient.grant(operator, key.address, { stake: MINIMUM_NODE_STAKE });
    return key;
  };
  const nonceCount = (address: string) => {
    const db = new Database(holdsDb, { readonly: true });
    try {
      return db.prepare('SELECT nonce FROM nonces WHERE node_id = ?').all(address).length;
    } finally {
      db.close();
    }
  };
  const attacker = await staked();
  const honest = [await staked(), await staked(), await staked()] as const;

  // 40 requests from the attacker's key (each signed afresh) beside an honest joiner's one.
  const [first, ...flood] = await Promise.all([
    assignShard(endpoint, honest[0], oneShard()),
    ...Array.from({ length: 40 }, () => assignShard(endpoint, attacker, oneShard())),
  ]);
  assert.equal(flood.length, 40);
  assert.ok(first.heldUntilMs > Date.now(), 'the honest joiner holds its shard');
  // However often it asked, the attacker holds one shard: its last answer.
  const attackerShard = (await assignShard(endpoint, attacker, oneShard())).shardIndex;
  assert.notEqual(attackerShard, first.shardIndex, 'two holds on three empty shards are on two shards');
  const second = await assignShard(endpoint, honest[1], oneShard());
  assert.deepEqual(
    [attackerShard, first.shardIndex, second.shardIndex].sort(),
    [0, 1, 2],
    'the next honest joiner is sent to the one shard neither hold covers',
  );

  // Three holds: a fourth, from another of the attacker's staked keys, is refused and leaves no trace.
  const secondKey = await staked();
  const full = await refusedWith(
    assignShard(endpoint, secondKey, oneShard()),
    status.RESOURCE_EXHAUSTED,
    'ASSIGNMENT_HOLDS_FULL',
  );
  assert.match(full.message, /holds 3 shard assignments for nodes that have not registered yet/);
  assert.equal(nonceCount(secondKey.address), 0);

  // An honest joiner registers on its shard: its hold is followed and goes, and the next honest
  // joiner is assigned in the room it leaves; the attacker's second key is still refused after it.
  await holdsClient.register(honest[0], {
    role: 'node',
    modelId: 'tiny',
    shardIndex: first.shardIndex,
    shardEnd: first.shardEnd,
    shareKey: Buffer.from(honest[0].publicKey).toString('hex'),
    endpoint: '127.0.0.1:50101',
    tls: false,
    capabilities: {
      tier: 'T3',
      cpuCores: 4,
      memoryGiB: 8,
      gpu: 'none',
      region: 'eu',
      workloads: ['llm-shard'],
      clientVersion: '0.1.0',
    },
    load: { activeSessions: 0, maxSessions: 8, computeUsPerToken: 120 },
    pricePer1kTokens: 5,
  });
  const third = await assignShard(endpoint, honest[2], oneShard());
  assert.ok(third.heldUntilMs > Date.now());
  await refusedWith(assignShard(endpoint, secondKey, oneShard()), status.RESOURCE_EXHAUSTED, 'ASSIGNMENT_HOLDS_FULL');
  assert.equal(nonceCount(secondKey.address), 0);
});

// The origin attacks: stories260K cut in two, its GGUF served over HTTP by a hostile origin and an honest one.
const STORIES = testModel('stories260K.gguf');
const storiesDir = join(dir, 'stories');
const stories = shardModel(STORIES, 2, storiesDir);
const storiesTokenizer = join(storiesDir, stories.tokenizerFile);
/** Room for the larger of its shards beside a 16 MiB KV budget, never for both: a joining node is given one. */
const oneShardOfStories = (16 << 20) + Math.max(...stories.shards.map((e) => e.bytes));
// Started by the first test that needs it, not at the top level: an await here would let the runner
// finish the tests above (all filtered out, say) and run `after` before these are registered.
let honestOrigin: RangeFileServer | undefined;
async function honestOriginUrl(): Promise<string> {
  if (honestOrigin === undefined) {
    const started = await startRangeFileServer(STORIES, 'stories260K.gguf');
    cleanups.push(() => started.close());
    honestOrigin = started;
  }
  return honestOrigin.url;
}

/** A range fetch of shard `index` into a fresh directory: the shard file it made, or its refusal. */
async function rangeFetch(url: string, index: number, name: string) {
  const into = join(dir, name);
  mkdirSync(into);
  const entry = stories.shards[index]!;
  const outcome = await fetchShardByRanges({
    url: new URL(url),
    manifest: stories,
    entry,
    dir: into,
    tokenizerPath: storiesTokenizer,
    log: () => {},
  }).then(
    (fetched) => ({ fetched, refusal: undefined }),
    (refusal: unknown) => ({ fetched: undefined, refusal: refusal as TesseraError & { tensor?: string } }),
  );
  const store = join(into, `${entry.file}.tensors`);
  const kept = existsSync(store) ? readdirSync(store) : [];
  return { ...outcome, into, entry, kept, final: join(into, entry.file) };
}

test('an origin serving altered bytes for one tensor: refused by name, none of it kept, the node takes the shard from the registry; an honest fetch meanwhile succeeds', async () => {
  const entry = stories.shards[0]!;
  const victim = shardTensors(stories, entry).find((t) => t.name === 'blk.1.attn_k.weight')!;
  const evil = await startRangeFileServer(STORIES, 'stories260K.gguf', {
    alter: { start: victim.offset + (victim.bytes >> 1), end: victim.offset + (victim.bytes >> 1) + 1 },
  });
  cleanups.push(() => evil.close());
  const [attacked, honest] = await Promise.all([
    rangeFetch(evil.url, 0, 'origin-altered'),
    rangeFetch(await honestOriginUrl(), 0, 'origin-altered-honest'),
  ]);
  assert.equal(attacked.refusal?.code, 'SHARD_HASH_MISMATCH');
  assert.equal(attacked.refusal?.tensor, victim.name);
  assert.match(
    attacked.refusal!.message,
    /tensor blk\.1\.attn_k\.weight .* has SHA-256 [0-9a-f]{64}, the manifest says/,
  );
  assert.equal(existsSync(attacked.final), false, 'no shard file to serve');
  assert.equal(
    attacked.kept.some((name) => name.startsWith(victim.name)),
    false,
    'nothing of the altered tensor kept',
  );
  assert.equal(sha256File(honest.fetched!.path), entry.sha256);

  // A node joining with that origin's URL: refused there, it fetches the shard file from the registry.
  const clusterConfig = parseClusterConfig(
    { clusterId: 'origin', models: [{ id: stories.modelId, manifest: 'stories' }] },
    dir,
  );
  const storiesRegistry = await startRegistry({ port: 0, dbPath: join(dir, 'origin.db'), clusterConfig });
  cleanups.push(() => storiesRegistry.close());
  const seen: { event: string; fields: Record<string, unknown> }[] = [];
  const joined = await joinNetwork({
    registry: storiesRegistry.endpoint,
    modelId: stories.modelId,
    key: generateKeyPair(),
    dir: join(dir, 'origin-join'),
    kvBudgetBytes: 16 << 20,
    freeBytes: oneShardOfStories,
    modelUrl: evil.url,
    log: (event, fields = {}) => seen.push({ event, fields }),
  });
  assert.deepEqual(joined.span, { start: 0, end: 1 });
  assert.equal(sha256File(join(joined.shardsDir, entry.file)), entry.sha256);
  assert.equal(seen.find((e) => e.event === 'range_fetch_failed')?.fields.code, 'SHARD_HASH_MISMATCH');
  assert.equal(seen.find((e) => e.event === 'shard_tensor_rejected')?.fields.tensor, victim.name);
  assert.equal(
    seen.find((e) => e.event === 'shard_file_fetched' && e.fields.file === entry.file)?.fields.source,
    storiesRegistry.endpoint,
  );
});

test("an origin altering the model's header: the tokenizer written from it is refused and deleted, the node takes it from the registry; an honest fetch meanwhile succeeds", async () => {
  // One letter of a tokenizer piece: the header still parses, its metadata is another model's.
  const headerEnd = Math.min(...stories.tensors!.map((t) => t.offset));
  const at = readFileSync(STORIES).subarray(0, headerEnd).indexOf('<unk>') + 1;
  assert.ok(at > 0);
  const evil = await startRangeFileServer(STORIES, 'stories260K.gguf', { alter: { start: at, end: at + 1 } });
  cleanups.push(() => evil.close());
  const fetchInto = async (url: string, name: string) => {
    const into = join(dir, name);
    mkdirSync(into);
    const outcome = await fetchTokenizerByRange({
      url: new URL(url),
      manifest: stories,
      dir: into,
      log: () => {},
    }).then(
      () => undefined,
      (refusal: TesseraError) => refusal,
    );
    return { refusal: outcome, files: readdirSync(into), path: join(into, stories.tokenizerFile) };
  };
  const [attacked, honest] = await Promise.all([
    fetchInto(evil.url, 'header-altered'),
    fetchInto(await honestOriginUrl(), 'header-altered-honest'),
  ]);
  assert.equal(attacked.refusal?.code, 'SHARD_HASH_MISMATCH');
  assert.match(
    attacked.refusal!.message,
    /the tokenizer file written from the header at .* has SHA-256 [0-9a-f]{64}, the manifest says/,
  );
  assert.deepEqual(attacked.files, [], 'nothing kept');
  assert.equal(honest.refusal, undefined);
  assert.equal(sha256File(honest.path), stories.tokenizerSha256);

  const clusterConfig = parseClusterConfig(
    { clusterId: 'origin-header', models: [{ id: stories.modelId, manifest: 'stories' }] },
    dir,
  );
  const storiesRegistry = await startRegistry({ port: 0, dbPath: join(dir, 'origin-header.db'), clusterConfig });
  cleanups.push(() => storiesRegistry.close());
  const seen: { event: string; fields: Record<string, unknown> }[] = [];
  const joined = await joinNetwork({
    registry: storiesRegistry.endpoint,
    modelId: stories.modelId,
    key: generateKeyPair(),
    dir: join(dir, 'origin-header-join'),
    kvBudgetBytes: 16 << 20,
    freeBytes: oneShardOfStories,
    modelUrl: evil.url,
    log: (event, fields = {}) => seen.push({ event, fields }),
  });
  assert.equal(sha256File(join(joined.shardsDir, stories.tokenizerFile)), stories.tokenizerSha256);
  assert.equal(
    seen.find((e) => e.event === 'shard_file_fetched' && e.fields.file === stories.tokenizerFile)?.fields.source,
    storiesRegistry.endpoint,
  );
  // The shard's tensors are untouched at that origin: they still come by range.
  const entry = stories.shards[joined.span.start]!;
  assert.equal(sha256File(join(joined.shardsDir, entry.file)), entry.sha256);
  assert.ok(seen.some((e) => e.event === 'shard_file_assembled'));
});

const misbehaving: [string, RangeFileServerOptions, string, RegExp][] = [
  ['ignores Range (200 and the whole file)', { ignoreRange: true }, 'RANGE_IGNORED', /answered 200 \(the whole file\)/],
  ['sends more bytes than asked', { extraBytes: 4096 }, 'RANGE_TOO_LONG', /sent more than the \d+ bytes asked for/],
  [
    'redirects to http',
    { redirectTo: 'http://127.0.0.1:9/stories260K.gguf' },
    'REDIRECT_REFUSED',
    /only redirects to https: are followed/,
  ],
];
for (const [what, options, code, reason] of misbehaving)
  test(`an origin that ${what} is refused (${code}), nothing is kept, and an honest fetch meanwhile succeeds`, async () => {
    const evil = await startRangeFileServer(STORIES, 'stories260K.gguf', options);
    cleanups.push(() => evil.close());
    const [attacked, honest] = await Promise.all([
      rangeFetch(evil.url, 1, `origin-${code}`),
      rangeFetch(await honestOriginUrl(), 1, `origin-${code}-honest`),
    ]);
    assert.equal(attacked.refusal?.code, code, String(attacked.refusal));
    assert.match(attacked.refusal!.message, reason);
    assert.equal(existsSync(attacked.final), false);
    // Tensors that arrived whole before the excess bytes are the right ones, checked; nothing else is kept.
    const store = join(attacked.into, `${attacked.entry.file}.tensors`);
    for (const name of attacked.kept.filter((n) => !n.endsWith('.part')))
      assert.equal(sha256File(join(store, name)), stories.tensors!.find((t) => t.name === name)!.sha256, name);
    if (code !== 'RANGE_TOO_LONG') assert.deepEqual(attacked.kept, [], 'nothing kept');
    assert.equal(sha256File(honest.fetched!.path), honest.entry.sha256);
    assert.equal(evil.ranges.length, 1, 'refused at the first answer, not asked again');
  });

// A hostile registry's manifest names a host on the joining node's own network as the model's
// source: server-side request forgery from every operator's machine, were it fetched.
const privateCert = selfSignedCert(dir, 'private-origin', ['localhost', '127.0.0.1', '::1']);

type Seen = { event: string; fields: Record<string, unknown> }[];
async function joinWith(registryEndpoint: string, modelId: string, name: string, modelUrl?: string) {
  const seen: Seen = [];
  const joined = await joinNetwork({
    registry: registryEndpoint,
    modelId,
    key: generateKeyPair(),
    dir: join(dir, name),
    kvBudgetBytes: 16 << 20,
    freeBytes: oneShardOfStories,
    ...(modelUrl === undefined ? {} : { modelUrl }),
    log: (event, fields = {}) => seen.push({ event, fields }),
  });
  return { joined, seen };
}

test('a registry whose manifest aims nodes at a private host (an IP, a name that resolves to one): refused with MODEL_URL_PRIVATE before any connection, the node takes its files from the registry; an honest node joining with its own --model-url meanwhile succeeds', async () => {
  const privateHost = await startRangeFileServer(STORIES, 'stories260K.gguf', { tls: privateCert });
  cleanups.push(() => privateHost.close());
  const byAddress = await startModelRegistry(dir, {
    name: 'ssrf-ip',
    shards: 2,
    sourceUrl: privateHost.url,
    cleanups,
  });
  const byName = await startModelRegistry(dir, {
    name: 'ssrf-name',
    shards: 2,
    sourceUrl: `https://localhost:${privateHost.port}/stories260K.gguf`,
    cleanups,
  });
  const [viaAddress, viaName, honest] = await Promise.all([
    joinWith(byAddress.registry.endpoint, byAddress.modelId, 'ssrf-ip-join'),
    joinWith(byName.registry.endpoint, byName.modelId, 'ssrf-name-join'),
    joinWith(byAddress.registry.endpoint, byAddress.modelId, 'ssrf-honest-join', await honestOriginUrl()),
  ]);

  for (const [{ joined, seen }, { registry, manifest }, address] of [
    [viaAddress, byAddress, /^127\.0\.0\.1, a loopback address/],
    [viaName, byName, /^localhost resolves to (127\.0\.0\.1|::1), a loopback address/],
  ] as const) {
    // The tokenizer and the shard were each refused their range source, for the same reason.
    const abandoned = seen.filter((e) => e.event === 'shard_range_fetch_abandoned');
    assert.deepEqual(
      abandoned.map((e) => [e.fields.file, e.fields.code]),
      [
        [manifest.tokenizerFile, 'MODEL_URL_PRIVATE'],
        [manifest.shards[joined.span.start]!.file, 'MODEL_URL_PRIVATE'],
      ],
    );
    const failed = seen.filter((e) => e.event === 'range_fetch_failed');
    assert.deepEqual(
      failed.map((e) => [e.fields.code, e.fields.action]),
      [['MODEL_URL_PRIVATE', 'giving up on this source']],
      'refused once, not tried again',
    );
    const message = String(failed[0]!.fields.error).split('.gguf: ')[1]!;
    assert.match(message, address);
    assert.match(
      message,
      /a registry may only aim nodes at public hosts; give --model-url to fetch from a host of your choosing/,
    );
    const entry = manifest.shards[joined.span.start]!;
    assert.equal(sha256File(join(joined.shardsDir, entry.file)), entry.sha256);
    assert.equal(sha256File(join(joined.shardsDir, manifest.tokenizerFile)), manifest.tokenizerSha256);
    for (const file of [entry.file, manifest.tokenizerFile])
      assert.equal(
        seen.find((e) => e.event === 'shard_file_fetched' && e.fields.file === file)?.fields.source,
        registry.endpoint,
        file,
      );
    assert.equal(failed[0]!.fields.source, manifest.source.url);
  }
  assert.equal(privateHost.connections(), 0, 'not even a TLS handshake reached the private host');
  assert.deepEqual(privateHost.ranges, []);

  // The honest operator's own URL (http to a loopback mirror) is theirs to choose: fetched by range.
  const entry = byAddress.manifest.shards[honest.joined.span.start]!;
  assert.equal(sha256File(join(honest.joined.shardsDir, entry.file)), entry.sha256);
  assert.ok(honest.seen.some((e) => e.event === 'shard_file_assembled'));
  assert.equal(
    honest.seen.some((e) => e.event === 'range_fetch_failed' || e.event === 'shard_range_fetch_abandoned'),
    false,
  );
});

test('a redirect from a registry-supplied URL, or from an operator URL on a public host, into the private network is refused before any connection; an operator URL on their own network may redirect within it; an honest fetch meanwhile succeeds', async () => {
  // The private host listens on ::1; 127.0.0.1 stands for a host on the internet.
  const privateHost = await startRangeFileServer(STORIES, 'stories260K.gguf', { tls: privateCert, host: '::1' });
  cleanups.push(() => privateHost.close());
  const redirecting = await startRangeFileServer(STORIES, 'stories260K.gguf', { redirectTo: privateHost.url });
  cleanups.push(() => redirecting.close());
  const internet = (address: string) => (address === '127.0.0.1' ? undefined : nonPublicClass(address));
  const read = (url: URL, classify?: (address: string) => string | undefined) =>
    readRange(
      { url, start: 0, end: 64, ...(classify === undefined ? {} : { testOnlyClassify: classify }) },
      () => {},
    ).then(
      () => undefined,
      (error: TesseraError) => error,
    );
  const [fromRegistryUrl, fromPublicOperatorUrl, honest] = await Promise.all([
    read(fromRegistry(new URL(redirecting.url)), internet),
    read(new URL(redirecting.url), internet),
    rangeFetch(await honestOriginUrl(), 1, 'redirect-private-honest'),
  ]);
  for (const refusal of [fromRegistryUrl, fromPublicOperatorUrl]) {
    assert.equal(refusal?.code, 'MODEL_URL_PRIVATE', String(refusal));
    assert.match(
      refusal!.message,
      /^https:\/\/\[::1\]:\d+\/stories260K\.gguf: ::1, a loopback address; a redirect from a public host or a registry-supplied URL may only lead to public hosts/,
    );
  }
  assert.equal(redirecting.ranges.length, 2);
  assert.equal(privateHost.connections(), 0, 'not even a TLS handshake reached the private host');
  assert.equal(sha256File(honest.fetched!.path), honest.entry.sha256);

  // The operator's own loopback mirror redirecting within their network is followed: the private
  // host is reached (and its self-signed certificate, trusted by no one here, is what fails).
  const followed = await read(new URL(redirecting.url));
  assert.equal(followed?.code, 'MODEL_URL_FAILED', String(followed));
  assert.ok(privateHost.connections() > 0);
});
