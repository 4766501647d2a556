// Attacks on stake by a stranger with its own valid keys, against a registry on 127.0.0.1 that
// keeps its ledger in its own SQLite file: stake declared with nothing behind it, a grant signed by
// a key that is not the cluster operator's, a replayed grant, a node, daemon or verifier registering
// below its minimum, and a member whose stake fell below the minimum (slashed, or unstaked and
// withdrawn) heartbeating on. Each is refused with its status and reason, the attacker's accounts
// and membership are as before, and an honest call made meanwhile succeeds.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import Database from 'better-sqlite3';
import { generateKeyPair, type KeyPair } from '../../src/crypto/keys.ts';
import { LedgerBackend } from '../../src/escrow/ledger-backend.ts';
import { tessera } from '../../src/proto/services.ts';
import { signGrant, type OperatorGrant } from '../../src/registry/grant.ts';
import { signOperatorRequest } from '../../src/registry/operator-request.ts';
import { startRegistry } from '../../src/registry/registry.ts';
import { RegistryClient, type AnnouncementBody } from '../../src/registry/registry-client.ts';
import type { SignedPayload } from '../../src/registry/signed-payload.ts';
import { reasonOf } from '../../src/rpc/status.ts';
import { nodeBody, removeDir, tempDir, testClusterConfig, writeShardsDir } from '../support/registry-fixtures.ts';

const dir = tempDir('attack-stake');
writeShardsDir(join(dir, 'tiny'), 'tiny', 3);
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  removeDir(dir);
});

const MINIMUM = { node: 100n, daemon: 300n, verifier: 200n };
type Role = keyof typeof MINIMUM;

let databases = 0;
/** A registry whose stakes, grants and settlements live in its own file, as `tessera registry` runs it. */
async function network() {
  const dbPath = join(dir, `registry-${databases++}.db`);
  const operator = generateKeyPair();
  const ledger = new LedgerBackend({ path: dbPath, unstakeCooldownS: 0, challengeWindowS: 0 });
  const handle = await startRegistry({
    port: 0,
    dbPath,
    settlement: ledger,
    stakes: ledger,
    accounts: ledger,
    clusterConfig: testClusterConfig(dir, {
      stake: {
        minimum: { node: Number(MINIMUM.node), daemon: Number(MINIMUM.daemon), verifier: Number(MINIMUM.verifier) },
        unstakeCooldownS: 0,
      },
      challengeWindowS: 0,
      operatorKeys: [operator.address],
      rateLimit: { perSecond: 1000, burst: 1000 },
    }),
  });
  const client = new RegistryClient(handle.endpoint);
  cleanups.push(async () => {
    client.close();
    await handle.close();
    await ledger.close();
  });
  /** What the registry holds about `address`: membership, the nonces it signed, every account row. */
  const holdings = (address: string) => {
    const db = new Database(dbPath, { readonly: true });
    try {
      const rows = (sql: string) => db.prepare(sql).all(address);
      return {
        node: rows('SELECT node_id, role, status FROM nodes WHERE node_id = ?'),
        nonces: rows('SELECT nonce FROM nonces WHERE node_id = ?'),
        stake: rows('SELECT * FROM ledger_stakes WHERE node = ?'),
        claimable: rows('SELECT * FROM ledger_claimable WHERE party = ?'),
        balance: rows('SELECT * FROM ledger_balances WHERE client = ?'),
        grants: rows('SELECT * FROM ledger_grants WHERE party = ?'),
      };
    } finally {
      db.close();
    }
  };
  const grant = async (to: KeyPair, amount: bigint) => client.grant(operator, to.address, { stake: amount });
  return { endpoint: handle.endpoint, client, ledger, operator, holdings, grant };
}

function body(key: KeyPair, role: Role): AnnouncementBody {
  return role === 'node'
    ? nodeBody(key, { shardIndex: 0, endpoint: '127.0.0.1:50100' })
    : nodeBody(key, { role, modelId: '', shardIndex: 0, endpoint: '127.0.0.1:50200' });
}

function grantOf(signer: KeyPair, to: KeyPair, overrides: Partial<OperatorGrant> = {}): OperatorGrant {
  return {
    operator: signer.address,
    to: to.address,
    stake: String(10n ** 30n),
    timestampMs: Date.now(),
    nonce: randomBytes(16).toString('hex'),
    ...overrides,
  };
}

/** Sends exactly these bytes, as an attacker with a raw gRPC client would. */
function send(endpoint: string, method: 'grant' | 'stake', signed: SignedPayload): Promise<unknown> {
  const raw = new tessera.v1.Registry(endpoint, credentials.createInsecure());
  return new Promise((resolve, reject) => {
    raw[method](
      { payload: signed.payload, signature: signed.signature },
      (error: ServiceError | null, reply?: unknown) => {
        raw.close();
        if (error) reject(error);
        else resolve(reply);
      },
    );
  });
}

async function refusedWith(call: Promise<unknown>, code: status, reason: string): Promise<ServiceError> {
  const error = (await call.then(
    () => assert.fail(`the registry took the call instead of refusing it ${reason}`),
    (e: ServiceError) => e,
  )) as ServiceError;
  assert.equal(status[error.code], status[code], error.details);
  assert.equal(reasonOf(error), reason, error.details);
  return error;
}

const discovered = async (client: RegistryClient) => (await client.discover('tiny')).nodes.map((n) => n.nodeId);

test('self-declared stake: Stake(10^30) with nothing earned is refused INSUFFICIENT_FUNDS; an honest grant meanwhile is credited', async () => {
  const { endpoint, client, holdings, grant } = await network();
  const attacker = generateKeyPair();
  const honest = generateKeyPair();
  const before = holdings(attacker.address);
  const declared = signOperatorRequest(attacker, {
    action: 'stake',
    nodeId: attacker.address,
    amount: String(10n ** 30n),
    timestampMs: Date.now(),
    nonce: randomBytes(16).toString('hex'),
  });
  const [refusal] = await Promise.all([
    refusedWith(send(endpoint, 'stake', declared), status.FAILED_PRECONDITION, 'INSUFFICIENT_FUNDS'),
    grant(honest, MINIMUM.node),
  ]);
  assert.match(
    refusal.details,
    new RegExp(`^InsufficientFunds: node ${attacker.address} holds 0 in claimable earnings`),
  );
  assert.deepEqual(holdings(attacker.address), before, 'no stake, and not even the nonce is kept');
  assert.equal((await client.account(attacker.address)).stake, 0n);
  // The stake it declared buys no membership either.
  await refusedWith(
    client.register(attacker, body(attacker, 'node')),
    status.FAILED_PRECONDITION,
    'STAKE_BELOW_MINIMUM',
  );
  assert.deepEqual(holdings(attacker.address), before);

  assert.equal((await client.account(honest.address)).stake, MINIMUM.node);
  await client.register(honest, body(honest, 'node'));
  assert.deepEqual(await discovered(client), [honest.address]);
});

test('a grant signed by a key that is not an operator key is refused, whoever it names as operator', async () => {
  const { endpoint, client, operator, holdings, grant } = await network();
  const attacker = generateKeyPair();
  const honest = generateKeyPair();
  const before = holdings(attacker.address);
  const [own, impersonating] = await Promise.all([
    // Signed with its own key, naming itself: a valid signature by a key the cluster never named.
    refusedWith(
      send(endpoint, 'grant', signGrant(attacker, grantOf(attacker, attacker, { deposit: String(10n ** 30n) }))),
      status.PERMISSION_DENIED,
      'OPERATOR_KEY_UNKNOWN',
    ),
    // Naming the operator's address: the signature is not the operator's.
    refusedWith(
      send(endpoint, 'grant', signGrant(attacker, grantOf(operator, attacker))),
      status.UNAUTHENTICATED,
      'BAD_SIGNATURE',
    ),
    grant(honest, MINIMUM.daemon),
  ]);
  assert.match(
    own.details,
    new RegExp(`^grant signed by ${attacker.address}, which is not one of this cluster's operator keys`),
  );
  assert.match(
    impersonating.details,
    new RegExp(`^grant is signed by ${attacker.address}, not by operator ${operator.address}$`),
  );
  assert.deepEqual(holdings(attacker.address), before);
  assert.deepEqual(await client.account(attacker.address), {
    address: attacker.address,
    stake: 0n,
    claimable: 0n,
    deposited: 0n,
    balance: 0n,
    escrow: { backend: 'ledger' },
  });
  await client.register(honest, body(honest, 'daemon'));
  await client.heartbeat(honest, body(honest, 'daemon'));
  assert.equal((await client.account(honest.address)).stake, MINIMUM.daemon);
});

test("a replayed grant is refused NONCE_REPLAYED and credits nothing twice; the operator's next grant is credited", async () => {
  const { endpoint, client, operator, holdings } = await network();
  const attacker = generateKeyPair();
  // The operator granted the attacker a small deposit once; the attacker kept the bytes.
  const captured = signGrant(operator, grantOf(operator, attacker, { stake: undefined, deposit: '5' }));
  assert.deepEqual(await send(endpoint, 'grant', captured), { stake: '0', balance: '5' });
  const before = holdings(attacker.address);
  const honest = generateKeyPair();
  const replays = Array.from({ length: 5 }, () =>
    refusedWith(send(endpoint, 'grant', captured), status.ALREADY_EXISTS, 'NONCE_REPLAYED'),
  );
  const [credited] = await Promise.all([client.grant(operator, honest.address, { deposit: 9n }), ...replays]);
  assert.deepEqual(credited, { stake: 0n, balance: 9n });
  assert.deepEqual(holdings(attacker.address), before);
  assert.equal((await client.account(attacker.address)).deposited, 5n);
});

test('a node, a daemon and a verifier with too little stake are refused at Register; an honest member joins meanwhile', async () => {
  const { client, holdings, grant } = await network();
  const honest = generateKeyPair();
  await grant(honest, MINIMUM.verifier);
  for (const role of ['node', 'daemon', 'verifier'] as const) {
    const attacker = generateKeyPair();
    await grant(attacker, MINIMUM[role] - 1n);
    const before = holdings(attacker.address);
    const [refusal] = await Promise.all([
      refusedWith(client.register(attacker, body(attacker, role)), status.FAILED_PRECONDITION, 'STAKE_BELOW_MINIMUM'),
      role === 'verifier' ? client.register(honest, body(honest, 'verifier')) : Promise.resolve(),
    ]);
    assert.equal(
      refusal.details,
      `${role} ${attacker.address} has stake ${MINIMUM[role] - 1n}, below the ${role} minimum ${MINIMUM[role]} (bond 1 more: \`tessera stake\` from its earnings or its account, or a grant from the cluster's operator)`,
    );
    assert.deepEqual(holdings(attacker.address), before, `${role}: no membership, no nonce`);
  }
  await client.heartbeat(honest, body(honest, 'verifier'));
  assert.deepEqual(holdings(honest.address).node, [{ node_id: honest.address, role: 'verifier', status: 'live' }]);
});

test('stake falling below the minimum (slashed, or unstaked and withdrawn) refuses the next heartbeat and evicts; honest members keep working', async () => {
  const { client, ledger, holdings, grant } = await network();
  const slashed = generateKeyPair();
  const leaving = generateKeyPair();
  const daemon = generateKeyPair();
  const honest = generateKeyPair();
  await grant(slashed, MINIMUM.node);
  await grant(leaving, MINIMUM.node);
  await grant(daemon, MINIMUM.daemon);
  await grant(honest, MINIMUM.node);
  for (const key of [slashed, leaving, honest]) await client.register(key, body(key, 'node'));
  await client.register(daemon, body(daemon, 'daemon'));
  assert.deepEqual(new Set(await discovered(client)), new Set([slashed.address, leaving.address, honest.address]));

  // Caught cheating: half its stake is gone.
  await ledger.slash(slashed.address, 5_000, `0x${'5a'.repeat(32)}`);
  await ledger.slash(daemon.address, 100, `0x${'5b'.repeat(32)}`);
  // Unstaking alone keeps the membership (no new work); withdrawing takes the bond away.
  await ledger.requestUnstake(leaving.address);
  await client.heartbeat(leaving, body(leaving, 'node'));
  assert.equal(await ledger.withdrawStake(leaving.address), MINIMUM.node);

  const [slashRefusal, leftRefusal, daemonRefusal] = await Promise.all([
    refusedWith(client.heartbeat(slashed, body(slashed, 'node')), status.FAILED_PRECONDITION, 'STAKE_BELOW_MINIMUM'),
    refusedWith(client.heartbeat(leaving, body(leaving, 'node')), status.FAILED_PRECONDITION, 'STAKE_BELOW_MINIMUM'),
    refusedWith(client.heartbeat(daemon, body(daemon, 'daemon')), status.FAILED_PRECONDITION, 'STAKE_BELOW_MINIMUM'),
    client.heartbeat(honest, body(honest, 'node')),
  ]);
  assert.equal(
    slashRefusal.details,
    `node ${slashed.address} has stake ${MINIMUM.node / 2n}, below the node minimum ${MINIMUM.node} (bond ${MINIMUM.node / 2n} more: \`tessera stake\` from its earnings or its account, or a grant from the cluster's operator); evicted: register again once bonded`,
  );
  assert.match(leftRefusal.details, /has stake 0, below the node minimum/);
  assert.match(daemonRefusal.details, /has stake 297, below the daemon minimum 300/);
  for (const [key, role] of [
    [slashed, 'node'],
    [leaving, 'node'],
    [daemon, 'daemon'],
  ] as const) {
    assert.equal((holdings(key.address).node[0] as { status: string }).status, 'evicted');
    await refusedWith(client.heartbeat(key, body(key, role)), status.NOT_FOUND, 'NODE_EVICTED');
    await refusedWith(client.register(key, body(key, role)), status.FAILED_PRECONDITION, 'STAKE_BELOW_MINIMUM');
  }

  await client.heartbeat(honest, body(honest, 'node'));
  assert.deepEqual(await discovered(client), [honest.address]);
  // Bonded again, the slashed node may rejoin.
  await grant(slashed, MINIMUM.node);
  await client.register(slashed, body(slashed, 'node'));
  assert.deepEqual(new Set(await discovered(client)), new Set([slashed.address, honest.address]));
});
