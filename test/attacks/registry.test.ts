// Attacks on a registry by a stranger with its own valid keys: an oversized anonymous call, gossip
// that tries to slip the attacker's endpoint in as a registry, a registration of a span the model does
// not have, a flood of signed calls dated ahead, and a registered node flooding tickets its own key
// signed. Each is refused with its status and reason, the registry's state is unchanged, and an
// honest call made meanwhile succeeds.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { sha256 } from '../../src/crypto/hash.ts';
import { generateKeyPair, type KeyPair } from '../../src/crypto/keys.ts';
import { AuditClient } from '../../src/audit/audit-client.ts';
import { commitmentToJson, newNonce, signRequest } from '../../src/protocol/audit-statements.ts';
import { signCommitment } from '../../src/protocol/commitment.ts';
import { ENGINE_VERSION } from '../../src/model/engine-version.ts';
import { encodeTicket, ticketIdOf } from '../../src/protocol/ticket.ts';
import { tessera } from '../../src/proto/services.ts';
import { startRegistry, type RegistryHandle } from '../../src/registry/registry.ts';
import { RegistryClient } from '../../src/registry/registry-client.ts';
import { signRegistryIdentity } from '../../src/registry/registry-identity.ts';
import { reasonOf } from '../../src/rpc/status.ts';
import { ConnectionCounter } from '../support/connection-counter.ts';
import { nodeSigned, selectedStep } from '../support/audit-tickets.ts';
import { DEFAULT_SAMPLING_RATE } from '../../src/protocol/audit-selection.ts';
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

const dir = tempDir('attack-registry');
const { manifest } = writeShardsDir(join(dir, 'tiny'), 'tiny', 3);
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  removeDir(dir);
});

let databases = 0;
async function registry(
  overrides: Record<string, unknown> = {},
  extra: Partial<Parameters<typeof startRegistry>[0]> = {},
): Promise<{ handle: RegistryHandle; dbPath: string; client: RegistryClient }> {
  const dbPath = join(dir, `registry-${databases++}.db`);
  const handle = await startRegistry({
    port: 0,
    dbPath,
    clusterConfig: testClusterConfig(dir, overrides),
    ...extra,
  });
  cleanups.push(() => handle.close());
  const client = new RegistryClient(handle.endpoint);
  cleanups.push(() => client.close());
  return { handle, dbPath, client };
}

const refusedWith = async (call: Promise<unknown>, code: status, reason: string): Promise<ServiceError> => {
  const error = (await call.then(
    () => assert.fail(`the registry took the call instead of refusing it ${reason}`),
    (e: ServiceError) => e,
  )) as ServiceError;
  assert.equal(status[error.code], status[code], error.details);
  assert.equal(reasonOf(error), reason);
  return error;
};

test('a 30 MB anonymous ExchangePeers is refused before it is read; an honest Discover is served', async () => {
  const { handle, dbPath, client } = await registry();
  const before = snapshot(dbPath);
  const raw = new tessera.v1.Registry(handle.endpoint, credentials.createInsecure(), {
    'grpc.max_send_message_length': 64 * 1024 * 1024,
  });
  cleanups.push(() => raw.close());
  const known = Array.from({ length: 30 }, (_, i) => `${'x'.repeat(1024 * 1024 - 8)}${i}:1`);
  const attack = new Promise((resolve, reject) =>
    raw.exchangePeers({ selfEndpoint: '', known }, (error: ServiceError | null, reply?: unknown) =>
      error ? reject(error) : resolve(reply),
    ),
  );
  const [refusal, discovered] = await Promise.all([
    refusedWith(attack, status.RESOURCE_EXHAUSTED, 'MESSAGE_TOO_LARGE'),
    client.discover('tiny'),
  ]);
  assert.match(refusal.details, /larger than max \(\d+ vs 32768\)/);
  assert.equal(discovered.manifest.modelId, 'tiny');
  assert.deepEqual(snapshot(dbPath), before);
});

test('an endpoint that answers gossip with the cluster id is never dialed nor advertised, however its caller signs', async () => {
  const keys = { a: generateKeyPair(), b: generateKeyPair() };
  const registryKeys = [keys.a.address, keys.b.address];
  const b = await registry({ gossipIntervalMs: 250, registryKeys }, { key: keys.b });
  const a = await registry({ gossipIntervalMs: 250, registryKeys }, { key: keys.a, seeds: [b.handle.endpoint] });
  const seen = () =>
    (snapshot(a.dbPath).peers as { endpoint: string; last_seen_ms: number }[]).find(
      (p) => p.endpoint === b.handle.endpoint,
    )?.last_seen_ms;
  await waitFor('a to hear from its seed', () => seen());
  const listener = new ConnectionCounter();
  await listener.listen();
  cleanups.push(() => listener.close());

  const attacker = generateKeyPair();
  const peersBefore = (snapshot(a.dbPath).peers as { endpoint: string }[]).map((p) => p.endpoint);
  const raw = new tessera.v1.Registry(a.handle.endpoint, credentials.createInsecure());
  cleanups.push(() => raw.close());
  const exchange = (selfIdentity: { payload: Uint8Array; signature: Uint8Array } | null) =>
    new Promise((resolve, reject) =>
      raw.exchangePeers(
        { selfEndpoint: listener.endpoint, known: [listener.endpoint], selfIdentity },
        (error: ServiceError | null, reply?: unknown) => (error ? reject(error) : resolve(reply)),
      ),
    );
  // With no identity, and with one the attacker signed with its own key for its own endpoint.
  await refusedWith(exchange(null), status.PERMISSION_DENIED, 'UNKNOWN_REGISTRY');
  await refusedWith(
    exchange(signRegistryIdentity(attacker, 'test', listener.endpoint)),
    status.PERMISSION_DENIED,
    'UNKNOWN_REGISTRY',
  );
  // Meanwhile a client is answered, and told of the cluster's registries only (b while it answers a's gossip).
  const advertised = async () => {
    const peers = (await a.client.exchangePeers()).map((p) => p.endpoint);
    assert.equal(peers[0], a.handle.endpoint);
    assert.ok(
      peers.every((p) => p === a.handle.endpoint || p === b.handle.endpoint),
      `advertised ${peers.join(', ')}`,
    );
  };
  await advertised();
  // Two more gossip rounds of a (its seed answers each): a dial to the listener would have come in them.
  const at = seen()!;
  await waitFor('a to finish a gossip round after the attack', () => seen()! > at);
  const next = seen()!;
  await waitFor('a to finish a second gossip round after the attack', () => seen()! > next);
  assert.equal(listener.connections, 0, 'the registry dialed the endpoint a stranger named');
  assert.deepEqual(
    (snapshot(a.dbPath).peers as { endpoint: string }[]).map((p) => p.endpoint),
    peersBefore,
  );
  await advertised();
});

test("a node registering a span that is not one of the model's shards (past the last, or empty) is refused INVALID_SPAN; nothing is stored, an honest node is admitted", async () => {
  const { handle, dbPath, client } = await registry();
  const attacker = generateKeyPair();
  const honest = generateKeyPair();
  // A registered attacker, so that a refusal that wrote anything would show in its row too.
  await client.register(attacker, nodeBody(attacker, { shardIndex: 0, shardEnd: 1 }));
  const before = snapshot(dbPath);
  const spans: [string, { shardIndex: number; shardEnd: number }, RegExp][] = [
    [
      'past the last shard',
      { shardIndex: 1, shardEnd: 4 },
      /^shards \[1, 4\) reach past tiny's 3 shards \(model "tiny" has shards 0 to 2/,
    ],
    ['starting past it', { shardIndex: 3, shardEnd: 5 }, /^shards \[3, 5\) reach past tiny's 3 shards/],
    [
      'ending where it starts',
      { shardIndex: 2, shardEnd: 2 },
      /^shards \[2, 2\) is not a span: it needs 0 ≤ start < end/,
    ],
    ['ending before it starts', { shardIndex: 2, shardEnd: 1 }, /^shards \[2, 1\) is not a span/],
    ['a huge end', { shardIndex: 0, shardEnd: 2 ** 40 }, /^shards \[0, 1099511627776\) reach past tiny's 3 shards/],
  ];
  const [admitted, ...refusals] = await Promise.all([
    client.register(honest, nodeBody(honest, { shardIndex: 1, shardEnd: 3, endpoint: '127.0.0.1:50102' })),
    ...spans.map(([, span]) =>
      sendSigned(
        handle.endpoint,
        'register',
        sign(attacker, announcement(attacker, 'register', nodeBody(attacker, span))),
      ).then(
        () => undefined,
        (error: ServiceError) => error,
      ),
    ),
  ]);
  for (const [i, [what, , reason]] of spans.entries()) {
    const refusal = refusals[i];
    assert.ok(refusal !== undefined, `${what}: admitted`);
    assert.equal(status[refusal.code], status[status.INVALID_ARGUMENT], `${what}: ${refusal.details}`);
    assert.equal(reasonOf(refusal), 'INVALID_SPAN', what);
    assert.match(refusal.details, reason, what);
  }
  assert.ok(admitted.registeredAtMs > 0);
  // The attacker's row and nonces are as they were; the honest node's registration is the one change.
  const after = snapshot(dbPath);
  const without = (rows: unknown[] | undefined) =>
    (rows as { node_id: string }[]).filter((row) => row.node_id !== honest.address);
  assert.deepEqual(without(after.nodes), without(before.nodes));
  assert.deepEqual(without(after.nonces), without(before.nonces));
  assert.deepEqual(
    (await client.discover('tiny')).nodes.map((n) => [n.nodeId, n.shardIndex, n.shardEnd]).sort(),
    [
      [attacker.address, 0, 1],
      [honest.address, 1, 3],
    ].sort(),
  );
});

test('600 signed calls dated 25 s ahead from one key: past its burst they are refused RATE_LIMITED; an honest key is served', async () => {
  // The per-peer bucket is opened wide, as if attacker and honest node were on different hosts (here
  // both are 127.0.0.1): the per-key bucket is what stops one key.
  const { handle, dbPath, client } = await registry({ rateLimit: { perSecond: 100_000, burst: 100_000 } });
  const attacker = generateKeyPair();
  const honest = generateKeyPair();
  await client.register(attacker, nodeBody(attacker));
  await client.register(honest, nodeBody(honest, { shardIndex: 2 }));
  const ahead = Date.now() + 25_000;
  const signed = Array.from({ length: 600 }, (_, i) =>
    sign(attacker, announcement(attacker, 'heartbeat', nodeBody(attacker), { timestampMs: ahead + i })),
  );
  const startedMs = Date.now();
  const flood = signed.map((s) =>
    sendSigned(handle.endpoint, 'heartbeat', s).then(
      () => 'accepted',
      (error: ServiceError) => `${status[error.code]} ${reasonOf(error)}`,
    ),
  );
  const honestBeat = client.heartbeat(honest, nodeBody(honest, { shardIndex: 2 }));
  const outcomes = await Promise.all(flood);
  const elapsedS = (Date.now() - startedMs) / 1000;
  await honestBeat;
  const accepted = outcomes.filter((o) => o === 'accepted').length;
  // The key's burst of 10 (less its Register), and what its 2 tokens a second refilled while the flood ran.
  assert.ok(accepted <= 9 + Math.ceil(2 * elapsedS), `${accepted} of the flood were taken in ${elapsedS} s`);
  assert.deepEqual(new Set(outcomes.filter((o) => o !== 'accepted')), new Set(['RESOURCE_EXHAUSTED RATE_LIMITED']));
  const nonces = snapshot(dbPath).nonces as { node_id: string }[];
  assert.equal(nonces.filter((n) => n.node_id === attacker.address).length, 1 + accepted);
  assert.equal(nonces.filter((n) => n.node_id === honest.address).length, 2);
});

test('a key that fills the nonce cache with calls dated ahead pushes out only its own calls', async () => {
  const { handle, dbPath, client } = await registry({ nonceCacheMax: 5 });
  const attacker = generateKeyPair();
  const honest = generateKeyPair();
  await client.register(honest, nodeBody(honest, { shardIndex: 2 }));
  await client.register(attacker, nodeBody(attacker));
  const ahead = Date.now() + 25_000;
  for (let i = 0; i < 6; i++) {
    await sendSigned(
      handle.endpoint,
      'heartbeat',
      sign(attacker, announcement(attacker, 'heartbeat', nodeBody(attacker), { timestampMs: ahead + i })),
    );
  }
  const state = snapshot(dbPath);
  assert.equal(state.nonces!.length, 5);
  // The attacker's own calls dated now fall below its floor, which now lies in the future...
  await refusedWith(
    sendSigned(handle.endpoint, 'heartbeat', sign(attacker, announcement(attacker, 'heartbeat', nodeBody(attacker)))),
    status.INVALID_ARGUMENT,
    'TIMESTAMP_STALE',
  );
  // ...and calls dated beyond the clock skew are refused as such.
  await refusedWith(
    sendSigned(
      handle.endpoint,
      'heartbeat',
      sign(attacker, announcement(attacker, 'heartbeat', nodeBody(attacker), { timestampMs: Date.now() + 31_000 })),
    ),
    status.INVALID_ARGUMENT,
    'TIMESTAMP_IN_FUTURE',
  );
  assert.deepEqual(snapshot(dbPath), state);
  // An honest node's heartbeat dated now is accepted: no floor of its own moved.
  const reply = await client.heartbeat(honest, nodeBody(honest, { shardIndex: 2 }));
  assert.ok(reply.serverTimeMs > 0);
  const after = snapshot(dbPath);
  // The full cache made room from the key holding the most: the attacker's, not the honest node's.
  const attackerNonces = (rows: unknown[] | undefined) =>
    (rows as { node_id: string; nonce: string }[]).filter((n) => n.node_id === attacker.address).map((n) => n.nonce);
  assert.ok(attackerNonces(after.nonces).every((n) => attackerNonces(state.nonces).includes(n)));
  assert.equal(attackerNonces(after.nonces).length, attackerNonces(state.nonces).length - 1);
  assert.equal((after.nonces as { node_id: string }[]).filter((n) => n.node_id === honest.address).length, 2);
});

test('600 signed audit requests dated 25 s ahead from one key are cut off at its burst, before they cost a check', async () => {
  const { handle, dbPath, client } = await registry();
  const honest = generateKeyPair();
  await client.register(honest, nodeBody(honest));
  const attacker = generateKeyPair();
  const attackerNode = generateKeyPair();
  const ahead = Date.now() + 25_000;
  const requests = Array.from({ length: 600 }, (_, i) =>
    signRequest(attacker, {
      kind: 'audit-request',
      client: attacker.address,
      commitment: commitmentToJson(
        signCommitment(attackerNode, {
          shardIndex: 0,
          shardEnd: 1,
          stepId: randomBytes(32),
          inputHash: sha256(Buffer.from(`in ${i}`)),
          outputHash: sha256(Buffer.from(`out ${i}`)),
        }),
      ),
      secret: randomBytes(32).toString('hex'),
      timestampMs: ahead + i,
      nonce: newNonce(),
    }),
  );
  const before = snapshot(dbPath);
  const audit = new tessera.v1.Audit(handle.endpoint, credentials.createInsecure());
  cleanups.push(() => audit.close());
  const startedMs = Date.now();
  const flood = requests.map(
    (signed) =>
      new Promise<string>((resolve) =>
        audit.requestAudit(signed, (error: ServiceError | null) =>
          resolve(error === null ? 'accepted' : `${status[error.code]} ${reasonOf(error)}`),
        ),
      ),
  );
  // Meanwhile an honest node's heartbeat is served.
  const beat = client.heartbeat(honest, nodeBody(honest));
  const outcomes = await Promise.all(flood);
  const elapsedS = (Date.now() - startedMs) / 1000;
  assert.ok((await beat).serverTimeMs > 0);
  const limited = outcomes.filter((o) => o === 'RESOURCE_EXHAUSTED RATE_LIMITED').length;
  // The key's burst of 50 and its 10 tokens a second while the flood ran; the rest stopped at the door.
  assert.ok(limited >= 600 - 50 - Math.ceil(10 * elapsedS), `${limited} of 600 refused RATE_LIMITED in ${elapsedS} s`);
  assert.ok(!outcomes.includes('accepted'));
  // Nothing of the attacker's was written: the honest heartbeat's nonce is the one new row.
  const after = snapshot(dbPath);
  assert.equal(after.nonces!.length, before.nonces!.length + 1);
  assert.ok(!(after.nonces as { node_id: string }[]).some((n) => n.node_id === attacker.address));
  const db = new Database(dbPath, { readonly: true });
  try {
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM audit_requests').get() as { n: number }).n, 0);
  } finally {
    db.close();
  }
});

/** A well-formed ticket of a step on shard 1 of `tiny` (shard 0's hold prompts: never queued), its commitment signed by `node`. */
async function ticketOf(node: KeyPair) {
  const width = manifest.config.hiddenSize;
  const bytes = new Uint8Array(Float32Array.from({ length: 3 * width }, () => Math.random()).buffer);
  const { secret, commitment } = selectedStep(
    node,
    { shardIndex: 1, inputHash: sha256(bytes), outputHash: sha256(randomBytes(8)) },
    DEFAULT_SAMPLING_RATE,
  );
  const encoded = await encodeTicket({
    modelId: 'tiny',
    shardIndex: 1,
    shardEnd: 2,
    shardSha256: manifest.shards[1]!.sha256,
    engineVersion: ENGINE_VERSION,
    input: { tokens: false, dtype: 'DTYPE_F32', positions: 3, width, bytes },
    startPosition: 0,
    commitment,
  });
  return { wire: nodeSigned(node, encoded, commitment, secret), ticketId: ticketIdOf(commitment) };
}

test("a registered node flooding SubmitTicket with tickets it signed is cut off at its key's burst; its excess tickets are not queued, an honest node's is", async () => {
  // Attacker and honest node share 127.0.0.1: the per-peer bucket is opened wide, the per-key one narrowed.
  const { handle, dbPath, client } = await registry(
    {},
    { rateLimits: { ticket: { perSecond: 10_000, burst: 10_000 }, 'ticket-key': { perSecond: 0.001, burst: 5 } } },
  );
  const attacker = generateKeyPair();
  const honest = generateKeyPair();
  await client.register(attacker, nodeBody(attacker, { shardIndex: 1 }));
  await client.register(honest, nodeBody(honest, { shardIndex: 1, endpoint: '127.0.0.1:50101' }));
  const audits = new AuditClient(handle.endpoint);
  cleanups.push(() => audits.close());
  const queued = (nodeId: string): string[] => {
    const db = new Database(dbPath, { readonly: true });
    try {
      const rows = db
        .prepare("SELECT ticket_id FROM audit_tickets WHERE node_id = ? AND status = 'queued' ORDER BY ticket_id")
        .all(nodeId) as { ticket_id: string }[];
      return rows.map((r) => r.ticket_id);
    } finally {
      db.close();
    }
  };

  const tickets = await Promise.all(Array.from({ length: 20 }, () => ticketOf(attacker)));
  const outcomes: string[] = [];
  for (const [i, { wire }] of tickets.entries()) {
    outcomes.push(
      await audits.submitTicket(wire).then(
        () => 'queued',
        (e: ServiceError) => `${status[e.code]} ${reasonOf(e)}`,
      ),
    );
    // Meanwhile, halfway through the flood, the honest node's ticket is queued.
    if (i === 10) {
      const own = await ticketOf(honest);
      assert.equal(await audits.submitTicket(own.wire), own.ticketId);
      assert.deepEqual(queued(honest.address), [own.ticketId]);
    }
  }
  assert.deepEqual(outcomes, [...Array(5).fill('queued'), ...Array(15).fill('RESOURCE_EXHAUSTED RATE_LIMITED')]);
  assert.deepEqual(
    queued(attacker.address),
    tickets
      .slice(0, 5)
      .map((t) => t.ticketId)
      .sort(),
  );
  // A replay of a ticket already held is not charged to its node: refused as held, not RATE_LIMITED.
  await refusedWith(audits.submitTicket(tickets[0]!.wire), status.ALREADY_EXISTS, 'TICKET_ALREADY_HELD');
});
