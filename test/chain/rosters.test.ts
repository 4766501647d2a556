import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { startDaemon } from '../../src/chain/daemon.ts';
import { openRoster } from '../../src/chain/roster.ts';
import { DEFAULT_CHAIN_PARAMS, epochOf } from '../../src/chain/params.ts';
import { daemonRegistry, startChainNetwork } from '../support/daemon-fixtures.ts';
import { removeDir, tempDir, waitFor } from '../support/registry-fixtures.ts';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test("every block names the registry's roster of its epoch; a registry outage with the roster fetched keeps the chain going", async () => {
  const dir = tempDir('chain-rosters');
  cleanups.push(() => removeDir(dir));
  const network = await startChainNetwork(dir);
  let networkClosed = false;
  cleanups.push(() => (networkClosed ? undefined : network.close()));
  const key = generateKeyPair();
  const events: { event: string }[] = [];
  // Epochs of 20 s: the roster in hand (this epoch's, and the next one's in its last quarter) outlasts the test.
  const params = { blockIntervalMs: 100, epochSlots: 200 };
  const daemon = await startDaemon({
    port: 0,
    dbPath: join(dir, 'chain.db'),
    ...daemonRegistry(network, key),
    params,
    verifyThreads: 0,
    log: (event) => events.push({ event }),
  });
  cleanups.push(() => daemon.close());
  await waitFor('a first block', () => daemon.chain.head().height >= 1);
  const block = daemon.chain.loadBlock(daemon.chain.head());
  const roster = openRoster(block.roster);
  assert.equal(roster.roster.epoch, epochOf(block.header.slot, { ...DEFAULT_CHAIN_PARAMS, ...params }));
  assert.deepEqual(
    roster.roster.daemons.map((d) => d.address),
    [key.address],
  );

  await network.close();
  networkClosed = true;
  const height = daemon.chain.head().height;
  await waitFor('three more blocks with the registry gone', () => daemon.chain.head().height >= height + 3);
  assert.ok(
    events.some((e) => e.event === 'membership_unavailable'),
    'the outage is logged',
  );
  assert.match(daemon.health().reason ?? '', /the registry's membership did not answer/);
});
