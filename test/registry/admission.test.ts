import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { reasonOf } from '../../src/rpc/status.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { canonicalJson } from '../../src/crypto/canonical-json.ts';
import { startRegistry, type RegistryHandle } from '../../src/registry/registry.ts';
import { RegistryClient, startHeartbeats } from '../../src/registry/registry-client.ts';
import {
  announcement,
  nodeBody,
  removeDir,
  sendSigned,
  sign,
  snapshot,
  tempDir,
  testClusterConfig,
  waitFor,
  writeShardsDir,
} from '../support/registry-fixtures.ts';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A registry on 127.0.0.1:random over a fresh SQLite file, serving `tiny` (3 shards). */
async function registryFixture(overrides: Record<string, unknown> = {}) {
  const dir = tempDir('registry');
  const { manifest, tokenizer } = writeShardsDir(join(dir, 'tiny'), 'tiny', 3);
  const dbPath = join(dir, 'registry.db');
  const config = testClusterConfig(dir, overrides);
  const registry = await startRegistry({ port: 0, dbPath, clusterConfig: config });
  const client = new RegistryClient(registry.endpoint);
  let handle: RegistryHandle | undefined = registry;
  cleanups.push(async () => {
    client.close();
    await handle?.close();
    removeDir(dir);
  });
  return {
    dir,
    dbPath,
    config,
    manifest,
    tokenizer,
    registry,
    client,
    /** Closes the registry and starts another on the same database. */
    restart: async () => {
      await handle!.close();
      handle = await startRegistry({ port: 0, dbPath, clusterConfig: config });
      return handle;
    },
  };
}

const refusal = (code: status, details: RegExp, reason?: string) => (error: unknown) => {
  assert.equal(status[(error as { code: status }).code], status[code], (error as Error).message);
  assert.match((error as { details: string }).details, details);
  if (reason !== undefined) assert.equal(reasonOf(error as ServiceError), reason);
  return true;
};

test('a signed registration is admitted and discovered; manifests, tokenizer and models are served', async () => {
  const { client, config, dir, tokenizer } = await registryFixture();
  const first = generateKeyPair();
  const second = generateKeyPair();
  const before = Date.now();
  // The first holds shards 1–2, the second shard 0 alone (an announcement without an end: one shard).
  const reply = await client.register(
    first,
    nodeBody(first, { shardIndex: 1, shardEnd: 3, endpoint: '127.0.0.1:50101' }),
  );
  assert.equal(reply.heartbeatIntervalMs, config.heartbeat.intervalMs);
  assert.ok(reply.registeredAtMs >= before);
  await client.register(
    second,
    nodeBody(second, { shardIndex: 0, endpoint: '127.0.0.1:50100', tls: true, pricePer1kTokens: 9 }),
  );

  const found = await client.discover('tiny');
  assert.equal(found.manifest.modelId, 'tiny');
  assert.equal(found.manifestJson, readFileSync(join(dir, 'tiny', 'manifest.json'), 'utf8'));
  assert.deepEqual(
    found.nodes.map((n) => [
      n.nodeId,
      n.shardIndex,
      n.shardEnd,
      n.endpoint,
      n.tls,
      n.pricePer1kTokens,
      n.activeSessions,
      n.maxSessions,
      n.computeUsPerToken,
    ]),
    [
      [second.address, 0, 1, '127.0.0.1:50100', true, 9, 0, 8, 120],
      [first.address, 1, 3, '127.0.0.1:50101', false, 5, 0, 8, 120],
    ],
  );
  assert.ok(found.nodes.every((n) => n.lastSeenMs >= before && n.lastSeenMs <= Date.now()));

  // A daemon names no model and is admitted, but discovery lists compute nodes only.
  const daemon = generateKeyPair();
  await client.register(
    daemon,
    nodeBody(daemon, { role: 'daemon', modelId: '', shardIndex: 0, endpoint: '127.0.0.1:50070' }),
  );
  assert.equal((await client.discover('tiny')).nodes.length, 2);

  const { manifest, tokenizerGguf } = await client.getManifest('tiny');
  assert.equal(manifest.shards.length, 3);
  assert.deepEqual(Buffer.from(tokenizerGguf), tokenizer);
  assert.deepEqual(await client.listModels(), [
    { modelId: 'tiny', architecture: 'llama', shards: 3, pricePer1kTokens: 7 },
  ]);

  await client.heartbeat(
    first,
    nodeBody(first, { shardEnd: 3, load: { activeSessions: 3, maxSessions: 8, computeUsPerToken: 95 } }),
  );
  const busy = (await client.discover('tiny')).nodes.find((n) => n.nodeId === first.address)!;
  assert.equal(busy.activeSessions, 3);
  assert.equal(busy.computeUsPerToken, 95);

  // A new registration under the same id replaces the old one.
  await client.register(first, nodeBody(first, { shardIndex: 2, endpoint: '127.0.0.1:50102' }));
  assert.deepEqual(
    (await client.discover('tiny')).nodes.map((n) => [n.nodeId, n.shardIndex, n.shardEnd, n.endpoint]),
    [
      [second.address, 0, 1, '127.0.0.1:50100'],
      [first.address, 2, 3, '127.0.0.1:50102'],
    ],
  );

  await client.unregister(first, nodeBody(first, { shardIndex: 2, endpoint: '127.0.0.1:50102' }));
  assert.deepEqual(
    (await client.discover('tiny')).nodes.map((n) => n.nodeId),
    [second.address],
  );
  await assert.rejects(
    client.discover('other'),
    refusal(status.NOT_FOUND, /^model "other" is not served by this registry; it serves "tiny"$/),
  );
  await assert.rejects(client.getManifest('other'), refusal(status.NOT_FOUND, /not served/));
});

test('each refused announcement names its reason and leaves the registry state unchanged', async () => {
  const { client, dbPath, registry } = await registryFixture();
  const key = generateKeyPair();
  const body = nodeBody(key);
  await client.register(key, body);
  const heartbeat = sign(key, announcement(key, 'heartbeat', body));
  await sendSigned(registry.endpoint, 'heartbeat', heartbeat);
  const state = snapshot(dbPath);
  assert.equal(state.nodes!.length, 1);
  assert.equal(state.nonces!.length, 2);

  const refusals: [string, Promise<unknown>, status, RegExp][] = [];
  const refuse = (
    name: string,
    method: 'register' | 'heartbeat' | 'unregister',
    signed: { payload: Uint8Array; signature: Uint8Array },
    code: status,
    details: RegExp,
  ) => refusals.push([name, sendSigned(registry.endpoint, method, signed), code, details]);

  const impostor = generateKeyPair();
  const forged = announcement(key, 'heartbeat', body);
  refuse(
    'signed by another key',
    'heartbeat',
    { payload: sign(impostor, forged).payload, signature: sign(impostor, forged).signature },
    status.UNAUTHENTICATED,
    new RegExp(`^announcement is signed by ${impostor.address}, not by node ${key.address}$`),
  );
  const truncated = sign(key, announcement(key, 'register', body));
  refuse(
    'truncated signature',
    'register',
    { payload: truncated.payload, signature: truncated.signature.subarray(0, 64) },
    status.UNAUTHENTICATED,
    /^announcement signature is malformed$/,
  );
  refuse(
    'reused nonce',
    'heartbeat',
    heartbeat,
    status.ALREADY_EXISTS,
    /^replayed announcement: nonce [0-9a-f]{32} was already used; each announcement is accepted once/,
  );
  refuse(
    'stale timestamp',
    'register',
    sign(key, announcement(key, 'register', body, { timestampMs: Date.now() - 93_000 })),
    status.INVALID_ARGUMENT,
    /^stale timestamp: announcement dated 93 s behind registry time, limit 30 s \(the signer's clock is behind/,
  );
  refuse(
    'future timestamp',
    'register',
    sign(key, announcement(key, 'register', body, { timestampMs: Date.now() + 120_000 })),
    status.INVALID_ARGUMENT,
    /^announcement dated 120 s ahead of registry time, limit 30 s \(the signer's clock is ahead/,
  );
  refuse(
    'unknown model',
    'register',
    sign(key, announcement(key, 'register', { ...body, modelId: 'llama-70b' })),
    status.INVALID_ARGUMENT,
    /^unknown model "llama-70b": this registry serves "tiny"$/,
  );
  refuse(
    'unknown shard',
    'register',
    sign(key, announcement(key, 'register', { ...body, shardIndex: 3 })),
    status.INVALID_ARGUMENT,
    /^shards \[3, 4\) reach past tiny's 3 shards \(model "tiny" has shards 0 to 2; register the span the node holds\)$/,
  );
  // Another key, so that the first stays within its per-key rate.
  const spanner = generateKeyPair();
  refuse(
    'a span past the last shard',
    'register',
    sign(spanner, announcement(spanner, 'register', { ...nodeBody(spanner), shardIndex: 1, shardEnd: 4 })),
    status.INVALID_ARGUMENT,
    /^shards \[1, 4\) reach past tiny's 3 shards/,
  );
  refuse(
    'an empty span',
    'register',
    sign(spanner, announcement(spanner, 'register', { ...nodeBody(spanner), shardIndex: 2, shardEnd: 2 })),
    status.INVALID_ARGUMENT,
    /^shards \[2, 2\) is not a span: it needs 0 ≤ start < end/,
  );

  refuse(
    'not canonical JSON',
    'register',
    { payload: new TextEncoder().encode('{"kind": "register"}'), signature: heartbeat.signature },
    status.INVALID_ARGUMENT,
    /^announcement payload is not canonical JSON/,
  );
  refuse(
    'malformed fields',
    'register',
    { payload: canonicalJson({ kind: 'register', nodeId: 'me' }), signature: heartbeat.signature },
    status.INVALID_ARGUMENT,
    /^malformed announcement: nodeId is not a lowercase 0x address, role "undefined"/,
  );
  refuse(
    'wrong kind for the call',
    'heartbeat',
    sign(key, announcement(key, 'register', body)),
    status.INVALID_ARGUMENT,
    /^a "register" announcement was sent to heartbeat; sign one of kind "heartbeat"$/,
  );
  refuse(
    'plaintext endpoint on the network',
    'register',
    sign(key, announcement(key, 'register', { ...body, endpoint: '10.1.2.3:50052' })),
    status.INVALID_ARGUMENT,
    /^endpoint 10\.1\.2\.3:50052 is reachable beyond this machine, so it must be served over TLS/,
  );
  const stranger = generateKeyPair();
  refuse(
    'heartbeat of an unregistered node',
    'heartbeat',
    sign(stranger, announcement(stranger, 'heartbeat', nodeBody(stranger))),
    status.NOT_FOUND,
    new RegExp(`^node ${stranger.address} is not registered here; register first$`),
  );
  refuse(
    'heartbeat that moves the node',
    'heartbeat',
    sign(key, announcement(key, 'heartbeat', { ...body, shardIndex: 2 })),
    status.FAILED_PRECONDITION,
    /^heartbeat changes shardIndex \(registered 1, now 2\), shardEnd \(registered 2, now 3\); register again to change them$/,
  );

  for (const [name, call, code, details] of refusals) {
    await assert.rejects(call, refusal(code, details), name);
  }
  assert.equal(new Set(refusals.map(([, , , details]) => details.source)).size, refusals.length);
  assert.deepEqual(snapshot(dbPath), state);
});

test('a peer over its rate limit is refused without touching the state', async () => {
  const { client, dbPath } = await registryFixture({ rateLimit: { perSecond: 0.01, burst: 2 } });
  const key = generateKeyPair();
  await client.register(key, nodeBody(key));
  await client.heartbeat(key, nodeBody(key));
  const state = snapshot(dbPath);
  await assert.rejects(
    client.heartbeat(key, nodeBody(key)),
    refusal(
      status.RESOURCE_EXHAUSTED,
      /^rate limit: more than 2 announce calls \(Heartbeat from 127\.0\.0\.1\) at 0\.01\/s; retry in \d+ ms$/,
      'RATE_LIMITED',
    ),
  );
  assert.deepEqual(snapshot(dbPath), state);
  // Reads draw on their own bucket.
  assert.equal((await client.discover('tiny')).nodes.length, 1);
});

test('a node that misses heartbeats is evicted; the heartbeat loop registers it again', async () => {
  const { client, dbPath } = await registryFixture({ heartbeat: { intervalMs: 50, evictAfterMissed: 2 } });
  const key = generateKeyPair();
  const body = nodeBody(key);
  await client.register(key, body);
  await waitFor('the eviction timer to mark the node evicted', () =>
    snapshot(dbPath).nodes!.some((n) => (n as { status: string }).status === 'evicted'),
  );
  assert.deepEqual((await client.discover('tiny')).nodes, []);
  await assert.rejects(
    client.heartbeat(key, body),
    refusal(status.NOT_FOUND, /was evicted after 2 missed heartbeats \(every 50 ms\); register again$/),
  );

  const errors: Error[] = [];
  const stop = startHeartbeats(client, key, () => body, { intervalMs: 10, onError: (e) => errors.push(e) });
  try {
    await waitFor(
      'the heartbeat loop to register the node again',
      async () => (await client.discover('tiny')).nodes.length === 1,
    );
  } finally {
    await stop();
  }
  assert.deepEqual(errors, []);
});

test('a restarted registry keeps its nodes, manifests and used nonces', async () => {
  const fixture = await registryFixture();
  const key = generateKeyPair();
  const signed = sign(key, announcement(key, 'register', nodeBody(key)));
  await sendSigned(fixture.registry.endpoint, 'register', signed);
  const before = snapshot(fixture.dbPath);

  const restarted = await fixture.restart();
  const client = new RegistryClient(restarted.endpoint);
  try {
    assert.deepEqual(
      (await client.discover('tiny')).nodes.map((n) => n.nodeId),
      [key.address],
    );
    await assert.rejects(
      sendSigned(restarted.endpoint, 'register', signed),
      refusal(status.ALREADY_EXISTS, /^replayed announcement/),
    );
    const after = snapshot(fixture.dbPath);
    assert.deepEqual(after.nodes, before.nodes);
    assert.deepEqual(after.nonces, before.nonces);
    assert.deepEqual(
      after.manifests!.map((m) => (m as { model_id: string }).model_id),
      ['tiny'],
    );
  } finally {
    client.close();
  }
});

test('when the nonce cache is full, announcements older than what it forgot are refused', async () => {
  const { dbPath, registry } = await registryFixture({ nonceCacheMax: 2 });
  const key = generateKeyPair();
  const now = Date.now();
  const at = (offsetMs: number) =>
    sign(key, announcement(key, 'register', nodeBody(key), { timestampMs: now + offsetMs }));
  const oldest = at(-3000);
  for (const signed of [oldest, at(-2000), at(-1000)]) await sendSigned(registry.endpoint, 'register', signed);
  const state = snapshot(dbPath);
  assert.equal(state.nonces!.length, 2);
  // The oldest nonce is gone from the cache, and yet its replay is refused.
  await assert.rejects(
    sendSigned(registry.endpoint, 'register', oldest),
    refusal(
      status.INVALID_ARGUMENT,
      new RegExp(`^stale timestamp: the registry no longer remembers ${key.address}'s nonces from before`),
      'TIMESTAMP_STALE',
    ),
  );
  await assert.rejects(
    sendSigned(registry.endpoint, 'register', at(-5000)),
    refusal(status.INVALID_ARGUMENT, /no longer remembers 0x[0-9a-f]{40}'s nonces/, 'TIMESTAMP_STALE'),
  );
  assert.deepEqual(snapshot(dbPath), state);
});
