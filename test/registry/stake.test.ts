// Membership by bond: a registry reading stakes from the SQLite ledger admits a node, daemon or
// verifier only at or above its role's minimum, at Register and at every Heartbeat (a heartbeat
// below it evicts); Discover lists only nodes at or above the minimum and not unstaking.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { generateKeyPair, type KeyPair } from '../../src/crypto/keys.ts';
import { LedgerBackend } from '../../src/escrow/ledger-backend.ts';
import { startRegistry, type RegistryHandle } from '../../src/registry/registry.ts';
import { RegistryClient, type AnnouncementBody } from '../../src/registry/registry-client.ts';
import { reasonOf } from '../../src/rpc/status.ts';
import { nodeBody, testClusterConfig, writeShardsDir } from '../support/registry-fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'tessera-trust-stake-'));
const MINIMUM = { node: 100, daemon: 300, verifier: 200 };
const operator = generateKeyPair();
let ledger: LedgerBackend;
let registry: RegistryHandle;
let client: RegistryClient;
const staked = generateKeyPair();
const under = generateKeyPair();
const unstaking = generateKeyPair();
const slashed = generateKeyPair();

async function grant(key: KeyPair, stake: number): Promise<void> {
  await client.grant(operator, key.address, { stake: BigInt(stake) });
}

before(async () => {
  writeShardsDir(join(dir, 'tiny'), 'tiny', 3);
  const dbPath = join(dir, 'registry.db');
  ledger = new LedgerBackend({ path: dbPath });
  registry = await startRegistry({
    port: 0,
    dbPath,
    settlement: ledger,
    stakes: ledger,
    accounts: ledger,
    clusterConfig: testClusterConfig(dir, {
      stake: { minimum: MINIMUM },
      operatorKeys: [operator.address],
      rateLimit: { perSecond: 1000, burst: 1000 },
    }),
  });
  client = new RegistryClient(registry.endpoint);
  await grant(staked, MINIMUM.node);
  await grant(under, MINIMUM.node - 1);
  await grant(unstaking, MINIMUM.node * 5);
  await grant(slashed, (MINIMUM.node * 3) / 2);
  for (const key of [staked, unstaking, slashed]) await client.register(key, body(key));
});

after(async () => {
  client?.close();
  await registry?.close();
  await ledger?.close();
  rmSync(dir, { recursive: true, force: true });
});

function body(key: KeyPair, role: 'node' | 'daemon' | 'verifier' = 'node'): AnnouncementBody {
  return role === 'node'
    ? nodeBody(key, { shardIndex: 0, endpoint: '127.0.0.1:50100' })
    : nodeBody(key, { role, modelId: '', shardIndex: 0, endpoint: '127.0.0.1:50200' });
}

const discovered = async () => new Set((await client.discover('tiny')).nodes.map((n) => n.nodeId));

/** What the registry says of a member below its role's minimum: its stake, the minimum, and how to bond the rest. */
const refusalOf = (role: string, key: KeyPair, stake: number, minimum: number) =>
  `${role} ${key.address} has stake ${stake}, below the ${role} minimum ${minimum} (bond ${minimum - stake} more: \`tessera stake\` from its earnings or its account, or a grant from the cluster's operator)`;

const belowMinimum = (message: RegExp | string) => (error: unknown) => {
  assert.equal(status[(error as ServiceError).code], 'FAILED_PRECONDITION', (error as Error).message);
  assert.equal(reasonOf(error as ServiceError), 'STAKE_BELOW_MINIMUM');
  if (typeof message === 'string') assert.equal((error as ServiceError).details, message);
  else assert.match((error as ServiceError).details, message);
  return true;
};

test('a node, daemon or verifier below its role minimum is refused at Register, naming stake and minimum', async () => {
  await assert.rejects(client.register(under, body(under)), belowMinimum(refusalOf('node', under, 99, 100)));
  // A node's bond is not a daemon's: each role has its own minimum.
  await assert.rejects(
    client.register(staked, body(staked, 'daemon')),
    belowMinimum(refusalOf('daemon', staked, 100, 300)),
  );
  const verifier = generateKeyPair();
  await grant(verifier, MINIMUM.verifier - 1);
  await assert.rejects(
    client.register(verifier, body(verifier, 'verifier')),
    belowMinimum(refusalOf('verifier', verifier, 199, 200)),
  );
  const stranger = generateKeyPair();
  await assert.rejects(
    client.register(stranger, body(stranger, 'daemon')),
    belowMinimum(/has stake 0, below the daemon minimum 300 \(bond 300 more: /),
  );
  assert.ok(!(await discovered()).has(under.address));

  // Bonded enough, each registers and heartbeats.
  await grant(under, 1);
  await client.register(under, body(under));
  await client.heartbeat(under, body(under));
  await grant(verifier, 1);
  await client.register(verifier, body(verifier, 'verifier'));
  await client.heartbeat(verifier, body(verifier, 'verifier'));
  const daemon = generateKeyPair();
  await grant(daemon, MINIMUM.daemon);
  await client.register(daemon, body(daemon, 'daemon'));
  await client.heartbeat(daemon, body(daemon, 'daemon'));
  assert.ok((await discovered()).has(under.address));
});

test('a node that requests unstaking leaves discovery at once but stays registered', async () => {
  const until = await ledger.requestUnstake(unstaking.address);
  assert.ok(until > Date.now() + 6 * 24 * 3600 * 1000, 'the default cooldown is 7 days');
  assert.ok(!(await discovered()).has(unstaking.address));
  assert.ok((await discovered()).has(staked.address));
  await client.heartbeat(unstaking, body(unstaking));
});

test('a slash below the minimum refuses the next heartbeat and evicts; register again is refused until bonded', async () => {
  await client.heartbeat(slashed, body(slashed));
  assert.ok((await discovered()).has(slashed.address));
  const taken = await ledger.slash(slashed.address, 5_000, `0x${'ab'.repeat(32)}`);
  assert.equal(taken, BigInt((MINIMUM.node * 3) / 4));
  assert.ok(!(await discovered()).has(slashed.address));

  await assert.rejects(
    client.heartbeat(slashed, body(slashed)),
    belowMinimum(`${refusalOf('node', slashed, 75, 100)}; evicted: register again once bonded`),
  );
  await assert.rejects(client.heartbeat(slashed, body(slashed)), (error: unknown) => {
    assert.equal(reasonOf(error as ServiceError), 'NODE_EVICTED');
    return true;
  });
  await assert.rejects(
    client.register(slashed, body(slashed)),
    belowMinimum(/has stake 75, below the node minimum 100 \(bond 25 more: [^)]*\)$/),
  );
  // Leaving is never refused for stake.
  await client.unregister(slashed, body(slashed));
  // The others were untouched.
  await client.heartbeat(staked, body(staked));
  assert.ok((await discovered()).has(staked.address));
});
