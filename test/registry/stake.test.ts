// Discovery by bond: a registry reading stakes from the SQLite ledger lists only the nodes staked
// at or above the cluster's minimum and not unstaking; a slash below the minimum drops a node.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { LedgerBackend } from '../../src/escrow/ledger-backend.ts';
import { startRegistry, type RegistryHandle } from '../../src/registry/registry.ts';
import { RegistryClient } from '../../src/registry/registry-client.ts';
import { joinNode } from '../support/daemon-fixtures.ts';
import { testClusterConfig, writeShardsDir } from '../support/registry-fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'tessera-trust-stake-'));
const MINIMUM = 100;
let ledger: LedgerBackend;
let registry: RegistryHandle;
let client: RegistryClient;
const leave: (() => Promise<void>)[] = [];
const staked = generateKeyPair();
const under = generateKeyPair();
const unstaking = generateKeyPair();
const slashed = generateKeyPair();

before(async () => {
  writeShardsDir(join(dir, 'tiny'), 'tiny', 3);
  const dbPath = join(dir, 'registry.db');
  ledger = new LedgerBackend({ path: dbPath });
  registry = await startRegistry({
    port: 0,
    dbPath,
    settlement: ledger,
    stakes: ledger,
    clusterConfig: testClusterConfig(dir, {
      stake: { minimum: { node: MINIMUM, daemon: 0, verifier: 0 } },
      rateLimit: { perSecond: 1000, burst: 1000 },
    }),
  });
  client = new RegistryClient(registry.endpoint);
  await ledger.stake(staked.address, BigInt(MINIMUM));
  await ledger.stake(under.address, BigInt(MINIMUM - 1));
  await ledger.stake(unstaking.address, BigInt(MINIMUM * 5));
  await ledger.stake(slashed.address, BigInt((MINIMUM * 3) / 2));
  for (const key of [staked, under, unstaking, slashed]) leave.push(await joinNode(registry.endpoint, key, 0));
});

after(async () => {
  await Promise.all(leave.map((stop) => stop()));
  client?.close();
  await registry?.close();
  await ledger?.close();
  rmSync(dir, { recursive: true, force: true });
});

const discovered = async () => new Set((await client.discover('tiny')).nodes.map((n) => n.nodeId));

test('only nodes with stake at or above the minimum are discovered', async () => {
  const ids = await discovered();
  assert.ok(ids.has(staked.address) && ids.has(unstaking.address) && ids.has(slashed.address));
  assert.ok(!ids.has(under.address), 'a node staked below the minimum gets no sessions');
});

test('a node that requests unstaking leaves discovery at once, during its cooldown', async () => {
  const until = await ledger.requestUnstake(unstaking.address);
  assert.ok(until > Date.now() + 6 * 24 * 3600 * 1000, 'the default cooldown is 7 days');
  assert.ok(!(await discovered()).has(unstaking.address));
  assert.ok((await discovered()).has(staked.address));
});

test('a slash that takes a node below the minimum removes it from discovery', async () => {
  assert.ok((await discovered()).has(slashed.address));
  const taken = await ledger.slash(slashed.address, 5_000, `0x${'ab'.repeat(32)}`);
  assert.equal(taken, BigInt((MINIMUM * 3) / 4));
  assert.ok(!(await discovered()).has(slashed.address));
});
