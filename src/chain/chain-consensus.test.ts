import { hex, sha256 } from '../crypto/hash.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '../crypto/keys.ts';
import { signHeader } from './block.ts';
import { Chain } from './chain.ts';
import { DEFAULT_CHAIN_PARAMS, type ChainParams } from './params.ts';
import { leaderOf, openRoster, signRoster } from './roster.ts';
import { ChainStore } from './store.ts';

const params: ChainParams = {
  ...DEFAULT_CHAIN_PARAMS,
  blockIntervalMs: 1000,
  maxSharesPerBlock: 4,
  windowBlocks: 2,
  epochSlots: 100,
  finalityDepth: 2,
};
const producer = generateKeyPair();
const authority = generateKeyPair();
/** Every slot of epoch 0 is the producer's. */
const roster = openRoster(signRoster(authority, { epoch: 0, daemons: [{ address: producer.address, stake: '1' }] }));
const slotTime = (slot: number) => slot * params.blockIntervalMs + 5;

function withChains(count: number, work: (chains: Chain[], dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-consensus-'));
  const chains = Array.from({ length: count }, (_, i) => new Chain(new ChainStore(join(dir, `chain-${i}.db`)), params));
  try {
    work(chains, dir);
  } finally {
    for (const c of chains) c.store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Gives `to` the canonical blocks of `from` up to `height` (checks aside), returning the last hash. */
function copyChain(from: Chain, to: Chain, height: number): Buffer {
  let hash: Buffer = Buffer.alloc(0);
  for (let h = 1; h <= height; h++) {
    const row = from.canonicalBlock(h)!;
    to.storeBlock(from.loadBlock(row), [], [], []);
    hash = row.hash;
  }
  return hash;
}

test('a longer fork from below the finality depth is refused and dropped; the chain is unchanged', () => {
  withChains(2, ([a, b]) => {
    for (const slot of [1, 3, 5, 7]) a!.produce(producer, slotTime(slot), roster);
    for (const slot of [2, 4, 6, 8, 9, 10]) b!.produce(producer, slotTime(slot), roster);
    const before = a!.locator().map(hex);
    const tip = copyChain(b!, a!, 6);
    const result = a!.adopt(tip);
    assert.equal(result.switched, false);
    assert.equal(
      result.refused,
      `reorg past finality: the chain of ${hex(tip)} forks at height 0, 4 blocks below the head; blocks 2 deep are final`,
    );
    assert.deepEqual(a!.locator().map(hex), before);
    assert.equal(a!.store.block(b!.canonicalBlock(1)!.hash), undefined, 'the fork is dropped');
  });
});

test('a fork within the finality depth is taken', () => {
  withChains(2, ([a, b]) => {
    a!.produce(producer, slotTime(1), roster);
    for (const slot of [2, 3, 4]) b!.produce(producer, slotTime(slot), roster);
    // Both share genesis; a's head is 1 above it: within depth 2.
    assert.deepEqual(a!.adopt(copyChain(b!, a!, 3)), { switched: true, orphaned: 1 });
    assert.equal(hex(a!.head().hash), hex(b!.head().hash));
  });
});

test('a settlement summary answers only once its window is final', () => {
  withChains(1, ([chain]) => {
    for (const slot of [1, 2, 3]) chain!.produce(producer, slotTime(slot), roster);
    assert.equal(chain!.summary(0), undefined, 'window 0 ends at 2; the head at 3 is 1 above it');
    chain!.produce(producer, slotTime(4), roster);
    assert.equal(chain!.summary(0)?.toHeight, 2);
  });
});

test('a store never signs two blocks for one slot, across a reorganization and a restart', () => {
  withChains(2, ([a, b], dir) => {
    a!.produce(producer, slotTime(1), roster);
    assert.ok(a!.produce(producer, slotTime(5), roster));
    for (const slot of [2, 3, 4]) b!.produce(producer, slotTime(slot), roster);
    assert.equal(a!.adopt(copyChain(b!, a!, 3)).switched, true);
    assert.equal(a!.head().slot, 4);
    a!.store.close();
    const reopened = new Chain(new ChainStore(join(dir, 'chain-0.db')), params);
    Object.assign(a!, { store: reopened.store });
    assert.equal(reopened.produce(producer, slotTime(5), roster), undefined, 'slot 5 was signed before the restart');
    assert.equal(reopened.produce(producer, slotTime(6), roster)?.header.slot, 6);
  });
});

test('a daemon produces only in slots it leads, and only under a roster of the epoch', () => {
  withChains(1, ([chain]) => {
    const other = generateKeyPair();
    const shared = openRoster(
      signRoster(authority, {
        epoch: 0,
        daemons: [
          { address: producer.address, stake: '1' },
          { address: other.address, stake: '1' },
        ],
      }),
    );
    const slots = Array.from({ length: 20 }, (_, i) => i + 1);
    const mine = slots.filter((s) => leaderOf(s, shared) === producer.address);
    const theirs = slots.filter((s) => leaderOf(s, shared) === other.address);
    assert.ok(mine.length > 0 && theirs.length > 0);
    assert.equal(chain!.produce(producer, slotTime(theirs[0]!), shared), undefined);
    assert.equal(chain!.produce(producer, slotTime(mine[0]!), shared)?.header.producer, producer.address);
    const epoch1 = openRoster(
      signRoster(authority, { epoch: 1, daemons: [{ address: producer.address, stake: '1' }] }),
    );
    assert.equal(chain!.produce(producer, slotTime(50), epoch1), undefined, 'slot 50 is of epoch 0');
  });
});

test('along one chain a block keeps its parent roster within an epoch', () => {
  withChains(2, ([a, b]) => {
    const block1 = b!.produce(producer, slotTime(1), roster)!;
    const other = openRoster(signRoster(authority, { epoch: 0, daemons: [{ address: producer.address, stake: '7' }] }));
    assert.throws(() => b!.produce(producer, slotTime(2), other), /whose roster is [0-9a-f]{64}: produce with it/);
    // The same block signed with another roster of epoch 0: valid alone, not on this parent.
    const block2 = b!.produce(producer, slotTime(2), roster)!;
    const header = { ...block2.header, rosterHash: hex(other.hash) };
    const signedHeader = signHeader(producer, header);
    const forged = { ...block2, header, signedHeader, hash: sha256(signedHeader.payload), roster: other.signed };
    a!.storeBlock(block1, [], [], []);
    a!.storeBlock(forged, [], [], []);
    const result = a!.adopt(forged.hash);
    assert.equal(result.switched, false);
    assert.match(result.invalid!, /its roster [0-9a-f]{64} differs from its parent's [0-9a-f]{64} in the same epoch 0/);
    assert.equal(a!.store.block(forged.hash), undefined);
  });
});
