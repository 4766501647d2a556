import { hex } from '../crypto/hash.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { generateKeyPair, type KeyPair } from '../crypto/keys.ts';

import { Chain, type VerifiedShare } from './chain.ts';
import { openRoster, signRoster } from './roster.ts';
import { nextBaseFee } from './fee.ts';
import { DEFAULT_CHAIN_PARAMS, type ChainParams } from './params.ts';
import { clientAddressOf, openReceipt, receiptHashOf, signReceipt } from '../protocol/receipt.ts';
import { encodeShare, sessionHashOf, shareHashOf } from '../protocol/share.ts';
import { signBatch, statementHashOf } from '../protocol/share-batch.ts';
import { ChainStore, ShareState } from './store.ts';

const params: ChainParams = {
  ...DEFAULT_CHAIN_PARAMS,
  blockIntervalMs: 1000,
  maxSharesPerBlock: 4,
  windowBlocks: 2,
  finalityDepth: 2,
};
const client = generateKeyPair();
const nodes = [generateKeyPair(), generateKeyPair()];

function withChains(count: number, work: (chains: Chain[], dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-chain-'));
  const chains = Array.from({ length: count }, (_, i) => new Chain(new ChainStore(join(dir, `chain-${i}.db`)), params));
  try {
    work(chains, dir);
  } finally {
    for (const c of chains) c.store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `count` shares of one session, each `tokens` tokens, backed by one receipt allowing `cap` tokens per hop. */
function session(
  id: string,
  count: number,
  tokens = 2,
  cap = count * tokens,
  node: KeyPair = nodes[0]!,
): VerifiedShare[] {
  const sessionHash = sessionHashOf(id);
  const signed = signReceipt(client, {
    sessionHash,
    modelId: 'tiny',
    tokensPerShard: [cap, cap],
    route: [nodes[1]!.address, node.address],
    timestampMs: 1,
  });
  const receiptHash = receiptHashOf(signed.payload);
  const receipt = {
    hash: receiptHash,
    payload: signed.payload,
    signature: signed.signature,
    sessionHash,
    modelId: 'tiny',
    client: clientAddressOf(openReceipt(signed.payload)),
    tokensPerShard: JSON.stringify([cap, cap]),
  };
  const payloads = Array.from({ length: count }, (_, i) =>
    encodeShare({
      nodeId: node.address,
      shardIndex: 1,
      tokensProcessed: tokens,
      timestampMs: 10 + i,
      sessionHash,
      receiptHash: receiptHash.toString('hex'),
    }),
  );
  const batch = signBatch(node, payloads);
  const statement = { hash: statementHashOf(batch.statement.payload), ...batch.statement };
  return payloads.map((payload) => {
    const share = {
      hash: shareHashOf(payload),
      payload,
      statement: statement.hash,
      nodeId: node.address,
      shardIndex: 1,
      sessionHash,
      receiptHash,
      tokens,
    };
    return { share, receipt, statement, cap };
  });
}

/** Every share hash of the canonical chain, with how often it occurs. */
function canonicalShares(chain: Chain): Map<string, number> {
  const counts = new Map<string, number>();
  for (let h = 1; h <= chain.head().height; h++) {
    for (const share of chain.store.blockShareRows(chain.canonicalBlock(h)!.hash))
      counts.set(hex(share.hash), (counts.get(hex(share.hash)) ?? 0) + 1);
  }
  return counts;
}

/** Gives `to` a block of `from` as gossip would (checks of signatures aside: Chain trusts its caller for those). */
function copyBlock(from: Chain, to: Chain, height: number): Buffer {
  const row = from.canonicalBlock(height)!;
  to.storeBlock(
    from.loadBlock(row),
    from.store.blockShareRows(row.hash),
    from.store.blockReceiptRows(row.hash),
    from.store.blockStatementRows(row.hash),
  );
  return row.hash;
}

const producer = generateKeyPair();
/** Every slot of epoch 0 is the producer's. */
const roster = openRoster(
  signRoster(generateKeyPair(), { epoch: 0, daemons: [{ address: producer.address, stake: '1' }] }),
);
const slotTime = (slot: number) => slot * params.blockIntervalMs + 5;

test('accepted shares wait, then land in blocks oldest first up to the capacity, each exactly once', () => {
  withChains(1, ([chain]) => {
    const shares = session('a', 10);
    assert.deepEqual(chain!.commitShares(shares), new Array(10).fill(undefined));
    assert.equal(chain!.store.pendingCount(), 10);
    const sizes = [1, 2, 3, 4].map((slot) => chain!.produce(producer, slotTime(slot), roster)?.header.shareCount);
    assert.deepEqual(sizes, [4, 4, 2, 0]);
    assert.equal(chain!.produce(producer, slotTime(4), roster), undefined, 'one block per slot');
    assert.equal(chain!.store.pendingCount(), 0);
    const counts = canonicalShares(chain!);
    assert.deepEqual(
      [...counts.keys()],
      shares.map((s) => hex(s.share.hash)),
    );
    assert.ok([...counts.values()].every((n) => n === 1));
    assert.deepEqual(chain!.store.usage(sessionHashOf('a'), 1), { chain: 20, pending: 0 });
  });
});

test('duplicates and shares beyond their receipt are refused and change nothing', () => {
  withChains(1, ([chain]) => {
    const shares = session('b', 3, 5, 12);
    const refusals = chain!.commitShares(shares);
    assert.deepEqual(refusals.slice(0, 2), [undefined, undefined]);
    assert.equal(refusals[2]?.rejection, 'SHARE_OVER_RECEIPT');
    assert.match(refusals[2]!.message, /10 tokens already claimed \+ 5 exceeds the 12 the receipt allows/);
    assert.equal(chain!.commitShares([shares[0]!])[0]?.rejection, 'SHARE_DUPLICATE');
    chain!.produce(producer, slotTime(1), roster);
    assert.match(chain!.commitShares([shares[1]!])[0]!.message, /already accepted and is in a block/);
    assert.equal(chain!.store.shareState(shares[2]!.share.hash), undefined);
    assert.deepEqual(chain!.store.usage(sessionHashOf('b'), 1), { chain: 10, pending: 0 });
  });
});

test('the fee of each block follows from its parent, and a better fork wins: orphaned shares return to the pool, none counted twice', () => {
  withChains(2, ([a, b]) => {
    const shared = session('shared', 2);
    const onlyA = session('only-a', 3);
    const onlyB = session('only-b', 4);
    a!.commitShares([...shared, ...onlyA]);
    b!.commitShares([...onlyB, ...shared]);
    // A: two blocks. B: three blocks on the same genesis, so B's chain is better.
    a!.produce(producer, slotTime(1), roster);
    a!.produce(producer, slotTime(3), roster);
    for (const slot of [2, 4, 5]) b!.produce(producer, slotTime(slot), roster);
    assert.equal(a!.store.pendingCount(), 0);
    for (let h = 1; h <= 3; h++) {
      const block = b!.loadBlock(b!.canonicalBlock(h)!);
      const parent = b!.canonicalBlock(h - 1)!;
      assert.equal(
        block.header.baseFeePerToken,
        h === 1 ? params.initialBaseFee : nextBaseFee(params, parent.baseFee, parent.shareCount),
      );
    }
    const tip = [1, 2, 3].map((h) => copyBlock(b!, a!, h)).at(-1)!;
    assert.equal(hex(a!.head().hash), hex(a!.canonicalBlock(2)!.hash), 'storing blocks leaves the chain as it is');
    const result = a!.adopt(tip);
    assert.deepEqual(result, { switched: true, orphaned: 2 });
    assert.equal(hex(a!.head().hash), hex(b!.head().hash));
    // A's own shares that B's chain lacks are pending again; the shared ones are in B's blocks, once.
    assert.equal(a!.store.pendingCount(), onlyA.length);
    for (const s of onlyA) assert.equal(a!.store.shareState(s.share.hash), ShareState.Pending);
    assert.deepEqual(a!.store.usage(sessionHashOf('only-a'), 1), { chain: 0, pending: 6 });
    assert.deepEqual(a!.store.usage(sessionHashOf('shared'), 1), { chain: 4, pending: 0 });
    a!.produce(producer, slotTime(6), roster);
    const counts = canonicalShares(a!);
    assert.equal(counts.size, shared.length + onlyA.length + onlyB.length);
    assert.ok([...counts.values()].every((n) => n === 1));
    assert.equal(a!.store.pendingCount(), 0);
  });
});

test('a fork with a block that breaks the rules is dropped and the chain is left as it was', () => {
  withChains(2, ([a, b]) => {
    a!.produce(producer, slotTime(1), roster);
    b!.commitShares(session('c', 2));
    b!.produce(producer, slotTime(1), roster);
    b!.produce(producer, slotTime(2), roster);
    const headBefore = hex(a!.head().hash);
    copyBlock(b!, a!, 1);
    // The second block claims the session's tokens again under a new receipt that allows nothing.
    const block2 = b!.canonicalBlock(2)!;
    const forged = { ...b!.loadBlock(block2), hash: Buffer.alloc(32, 7) };
    const replayed = b!.store.blockShareRows(b!.canonicalBlock(1)!.hash);
    const block1 = b!.canonicalBlock(1)!.hash;
    a!.storeBlock(
      { ...forged, header: { ...forged.header, shareCount: replayed.length } },
      replayed,
      b!.store.blockReceiptRows(block1),
      b!.store.blockStatementRows(block1),
    );
    const result = a!.adopt(forged.hash);
    assert.equal(result.switched, false);
    assert.match(result.invalid!, /is already in the chain/);
    assert.equal(hex(a!.head().hash), headBefore);
    assert.equal(a!.store.block(forged.hash), undefined, 'the invalid block is dropped');
  });
});

test('a settlement window sums shares, tokens and fees per client and node, once complete', () => {
  withChains(1, ([chain]) => {
    chain!.commitShares([...session('d', 3, 4), ...session('e', 2, 1, 2, nodes[1]!)]);
    assert.equal(chain!.summary(0), undefined, 'window 0 is not complete yet');
    chain!.produce(producer, slotTime(1), roster);
    chain!.produce(producer, slotTime(2), roster);
    assert.equal(chain!.summary(0), undefined, 'window 0 is complete, not yet final');
    chain!.produce(producer, slotTime(3), roster);
    chain!.produce(producer, slotTime(4), roster);
    const summary = chain!.summary(0)!;
    const fee = params.initialBaseFee;
    const byNode = new Map(summary.flows.map((f) => [f.nodeId, f]));
    assert.deepEqual(byNode.get(nodes[0]!.address), {
      client: client.address,
      nodeId: nodes[0]!.address,
      shares: 3,
      tokens: 12,
      fees: BigInt(12 * fee),
    });
    assert.equal(byNode.get(nodes[1]!.address)!.tokens, 2);
    assert.equal(summary.flows.length, 2, 'one flow per client and node');
    // Block 1 was full (4 shares), so block 2's fee rose: node 1's second share pays the higher fee.
    assert.equal(byNode.get(nodes[1]!.address)!.fees, BigInt(fee + nextBaseFee(params, fee, 4)));
    assert.equal(summary.totalFees, byNode.get(nodes[0]!.address)!.fees + byNode.get(nodes[1]!.address)!.fees);
    assert.equal(summary.totalShares, 5);
    assert.equal(summary.lastBlockHash, hex(chain!.canonicalBlock(2)!.hash));
    assert.match(summary.hash, /^[0-9a-f]{64}$/);
  });
});

test('a database of another chain is refused', () => {
  withChains(1, ([chain], dir) => {
    chain!.store.close();
    assert.throws(
      () => new Chain(new ChainStore(join(dir, 'chain-0.db')), { ...params, maxSharesPerBlock: 6 }),
      /holds a chain with other parameters/,
    );
    // reopen so the cleanup closes a live store
    Object.assign(chain!, { store: new ChainStore(join(dir, 'chain-0.db')) });
  });
});

test('a database of an older schema is refused with what to do', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-chain-'));
  try {
    const path = join(dir, 'chain.db');
    const old = new Database(path);
    old.pragma('user_version = 1');
    old.close();
    assert.throws(
      () => new ChainStore(path),
      /chain\.db has chain schema version 1; this tessera keeps version 3 .*: delete .*chain\.db or run an older tessera/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a produced block carries the statements of its shares, each share pointing at the one that lists it', () => {
  withChains(1, ([chain]) => {
    const shares = session('f', 6);
    chain!.commitShares(shares);
    const block = chain!.produce(producer, slotTime(1), roster)!;
    assert.equal(block.shares.length, params.maxSharesPerBlock);
    assert.equal(block.statements.length, 1);
    assert.ok(block.shares.every((s) => s.statement === block.statements[0]));
    const loaded = chain!.loadBlock(chain!.canonicalBlock(1)!);
    assert.deepEqual(
      loaded.statements.map((s) => hex(s.payload)),
      [hex(shares[0]!.statement.payload)],
    );
    assert.ok(
      loaded.shares.every((s) => s.statement === loaded.statements[0]),
      'loaded shares point at the loaded statement',
    );
    assert.deepEqual(
      chain!.store.blockStatementRows(block.hash).map((r) => hex(r.hash)),
      [hex(shares[0]!.statement.hash)],
    );
  });
});
