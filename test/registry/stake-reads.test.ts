// One stake read per Register and per Heartbeat (issue 12): the stake gate's read also answers the
// reply's unstaking cooldown. On the EVM back end each read is a round trip to the chain, so a second
// one per heartbeat costs every node's heartbeat a chain call. Counted on the real SQLite ledger,
// wrapped so that each stakeOf is counted per address.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { LedgerBackend } from '../../src/escrow/ledger-backend.ts';
import type { StakeInfo } from '../../src/registry/settlement-backend.ts';
import type { StakeReader } from '../../src/registry/stake-gate.ts';
import { startRegistry } from '../../src/registry/registry.ts';
import { RegistryClient } from '../../src/registry/registry-client.ts';
import { nodeBody, removeDir, tempDir, testClusterConfig, writeShardsDir } from '../support/registry-fixtures.ts';

/** The real ledger's stakeOf, counted per address. */
class CountingStakeReader implements StakeReader {
  readonly reads = new Map<string, number>();
  constructor(private readonly inner: StakeReader) {}
  stakeOf(node: string): Promise<StakeInfo> {
    this.reads.set(node, (this.reads.get(node) ?? 0) + 1);
    return this.inner.stakeOf(node);
  }
}

const dir = tempDir('stake-reads');
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  removeDir(dir);
});

test('Register and each Heartbeat read the node stake once, also when the reply reports an unstaking cooldown', async () => {
  writeShardsDir(join(dir, 'tiny'), 'tiny', 3);
  const dbPath = join(dir, 'registry.db');
  const ledger = new LedgerBackend({ path: dbPath, unstakeCooldownS: 3600 });
  const counting = new CountingStakeReader(ledger);
  const operator = generateKeyPair();
  const registry = await startRegistry({
    port: 0,
    dbPath,
    settlement: ledger,
    stakes: counting,
    accounts: ledger,
    clusterConfig: testClusterConfig(dir, {
      stake: { minimum: { node: 100, daemon: 0, verifier: 0 } },
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
  const node = generateKeyPair();
  await client.grant(operator, node.address, { stake: 100n });
  const body = nodeBody(node, { shardIndex: 0 });
  const reads = () => counting.reads.get(node.address) ?? 0;

  assert.equal((await client.register(node, body)).unstakingUntilMs, 0);
  assert.equal(reads(), 1, 'Register');
  for (let i = 1; i <= 3; i++) {
    assert.equal((await client.heartbeat(node, body)).unstakingUntilMs, 0);
    assert.equal(reads(), 1 + i, `heartbeat ${i}`);
  }
  // The cooldown the reply carries comes from the same read as the minimum check.
  const until = await ledger.requestUnstake(node.address);
  assert.equal((await client.heartbeat(node, body)).unstakingUntilMs, until);
  assert.equal(reads(), 5, 'heartbeat during the cooldown');
});

test('with no node minimum the stake is still read once per heartbeat, for the cooldown', async () => {
  const sub = join(dir, 'no-minimum');
  writeShardsDir(join(sub, 'tiny'), 'tiny', 3);
  const dbPath = join(sub, 'registry.db');
  const ledger = new LedgerBackend({ path: dbPath, unstakeCooldownS: 3600 });
  const counting = new CountingStakeReader(ledger);
  const registry = await startRegistry({
    port: 0,
    dbPath,
    settlement: ledger,
    stakes: counting,
    clusterConfig: testClusterConfig(sub, { rateLimit: { perSecond: 1000, burst: 1000 } }),
  });
  const client = new RegistryClient(registry.endpoint);
  cleanups.push(async () => {
    client.close();
    await registry.close();
    await ledger.close();
  });
  const node = generateKeyPair();
  const body = nodeBody(node, { shardIndex: 2 });
  await client.register(node, body);
  await client.heartbeat(node, body);
  await client.heartbeat(node, body);
  assert.equal(counting.reads.get(node.address), 3);
});
