// Blocks validated per second while a daemon syncs a chain from a peer: every check a block from
// another daemon passes (header signature, roster signature once per epoch, slot leader, fee, slot
// order, finality) and the durable write of each, against hashing the same headers and recovering
// their signers on one thread.
import { join } from 'node:path';
import { BLOCK_DOMAIN } from '../src/chain/block.ts';
import { Chain } from '../src/chain/chain.ts';
import { startDaemon } from '../src/chain/daemon.ts';
import { RegistryMembership } from '../src/chain/membership.ts';
import { DEFAULT_CHAIN_PARAMS, epochOf, slotOf } from '../src/chain/params.ts';
import { openRoster, signRoster, type OpenedRoster } from '../src/chain/roster.ts';
import { ChainStore } from '../src/chain/store.ts';
import { registryEnrollment } from '../src/cli/daemon-enrollment.ts';
import { sha256 } from '../src/crypto/hash.ts';
import { generateKeyPair } from '../src/crypto/keys.ts';
import { recoverSigner } from '../src/crypto/signature.ts';
import { startChainNetwork } from '../test/support/daemon-fixtures.ts';
import { removeDir, tempDir, waitFor } from '../test/support/registry-fixtures.ts';
import type { BenchRow } from './row.ts';

const params = DEFAULT_CHAIN_PARAMS;

export async function chainSyncRow(quick: boolean): Promise<BenchRow> {
  const count = quick ? 2_000 : 10_000;
  const dir = tempDir('bench-chain-sync');
  const network = await startChainNetwork(dir, 1_000);
  const peerKey = generateKeyPair();
  try {
    // The peer's chain: `count` empty blocks of past slots, each epoch under a roster the registry's key signed.
    process.stderr.write(`building a chain of ${count} blocks ...\n`);
    const peerDb = join(dir, 'peer.db');
    const store = new ChainStore(peerDb);
    const chain = new Chain(store, params);
    const first = slotOf(Date.now(), params) - count - params.epochSlots * 2;
    const rosters = new Map<number, OpenedRoster>();
    for (let slot = first; slot < first + count; slot++) {
      const epoch = epochOf(slot, params);
      let roster = rosters.get(epoch);
      if (roster === undefined) {
        roster = openRoster(
          signRoster(network.registryKey, { epoch, daemons: [{ address: peerKey.address, stake: '1' }] }),
        );
        rosters.set(epoch, roster);
      }
      if (chain.produce(peerKey, slot * params.blockIntervalMs + 1, roster) === undefined)
        throw new Error(`no block for slot ${slot}`);
    }
    const headers = Array.from({ length: count }, (_, i) => chain.canonicalBlock(i + 1)!);
    store.close();

    const reference = (() => {
      const started = performance.now();
      for (const row of headers) {
        sha256(row.header);
        if (recoverSigner(BLOCK_DOMAIN, row.header, row.signature) !== peerKey.address)
          throw new Error('a header failed its signature check');
      }
      return count / ((performance.now() - started) / 1000);
    })();

    const peer = await startDaemon({
      port: 0,
      dbPath: peerDb,
      membership: new RegistryMembership(network.membership),
      enrollment: registryEnrollment(network.registry, peerKey, () => {}),
      key: peerKey,
      verifyThreads: 1,
      syncIntervalMs: 60_000,
    });
    try {
      process.stderr.write(`syncing ${count} blocks from a peer ...\n`);
      const key = generateKeyPair();
      const syncing = await startDaemon({
        port: 0,
        dbPath: join(dir, 'syncing.db'),
        membership: new RegistryMembership(network.membership),
        enrollment: registryEnrollment(network.registry, key, () => {}),
        key,
        peers: [peer.endpoint],
        syncIntervalMs: 50,
      });
      try {
        // Timed from its first block: the peer takes its pulls once its list of live daemons (refreshed each slot) holds it.
        await waitFor('the first block synced', () => syncing.chain.head().height >= 1, 60_000);
        const from = syncing.chain.head().height;
        const started = performance.now();
        await waitFor('the syncing daemon to hold the chain', () => syncing.chain.head().height >= count, 600_000);
        const ours = (count - from) / ((performance.now() - started) / 1000);
        return {
          figure: `blocks validated per second, a daemon syncing ${count} blocks from a peer (every check; synced to disk per batch pulled)`,
          ours,
          reference,
          referenceName: 'sha256 + signer recovery of the same headers',
          unit: 'blocks/s',
        };
      } finally {
        await syncing.close();
      }
    } finally {
      await peer.close();
    }
  } finally {
    await network.close();
    removeDir(dir);
  }
}
