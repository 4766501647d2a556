import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { canonicalJson } from '../src/crypto/canonical-json.ts';
import { generateKeyPair } from '../src/crypto/keys.ts';
import { sign } from '../src/crypto/signature.ts';
import { hex } from '../src/chain/block.ts';
import { startDaemon, type DaemonHandle } from '../src/chain/daemon.ts';
import { DaemonClient } from '../src/chain/daemon-client.ts';
import { nextBaseFee } from '../src/chain/fee.ts';
import { RECEIPT_DOMAIN } from '../src/chain/receipt.ts';
import { shareHashOf } from '../src/chain/share.ts';
import { startChainNetwork, joinNode, TestSession, type ChainNetwork } from './daemon-fixtures.ts';
import { removeDir, tempDir, waitFor } from './registry-fixtures.ts';

const params = { blockIntervalMs: 150, maxSharesPerBlock: 8, windowBlocks: 4 };
const client = generateKeyPair();
const nodeA = generateKeyPair();
const nodeB = generateKeyPair();
const evicted = generateKeyPair();
let dir: string;
let network: ChainNetwork;
let daemon: DaemonHandle;
let rpc: DaemonClient;
const stops: (() => Promise<void>)[] = [];

before(async () => {
  dir = tempDir('daemon-shares');
  network = await startChainNetwork(dir);
  stops.push(await joinNode(network.registry, nodeA, 1), await joinNode(network.registry, nodeB, 0), await joinNode(network.registry, evicted, 2, false));
  daemon = await startDaemon({
    port: 0, dbPath: join(dir, 'chain.db'), registry: network.registry, membership: network.membership, key: generateKeyPair(), params, membershipTtlMs: 0, verifyThreads: 1,
  });
  rpc = new DaemonClient(daemon.endpoint);
});

after(async () => {
  rpc?.close();
  await daemon?.close();
  for (const stop of stops) await stop();
  await network?.close();
  removeDir(dir);
});

/** Every canonical block with its share hashes. */
async function canonicalShares(): Promise<{ counts: Map<string, number>; fees: number[]; sizes: number[] }> {
  const counts = new Map<string, number>();
  const fees: number[] = [];
  const sizes: number[] = [];
  const { head } = await rpc.head();
  for (let next = 1; next <= head.header.height; ) {
    const { blocks } = await rpc.blocks(next, head.header.height);
    for (const block of blocks) {
      fees.push(block.header.baseFeePerToken);
      sizes.push(block.header.shareCount);
      for (const share of block.shares) {
        const h = shareHashOf(share.payload).toString('hex');
        counts.set(h, (counts.get(h) ?? 0) + 1);
      }
    }
    next = blocks.at(-1)!.header.height + 1;
  }
  return { counts, fees, sizes };
}

/** What a rejected batch must leave exactly as it was: shares, receipts and claimed tokens. */
function ledger(): unknown {
  const db = new Database(join(dir, 'chain.db'), { readonly: true });
  try {
    return {
      shares: db.prepare('SELECT hex(hash) AS h FROM shares ORDER BY hash').all(),
      receipts: db.prepare('SELECT hex(hash) AS h FROM receipts ORDER BY hash').all(),
      usage: db.prepare('SELECT session_hash, shard_index, chain_tokens + pending_tokens AS claimed FROM usage ORDER BY 1, 2').all(),
    };
  } finally {
    db.close();
  }
}

const accepted: string[] = [];
const acceptedShares: { payload: Uint8Array; signature: Uint8Array }[] = [];

test('valid shares are accepted once durable and land in blocks, each exactly once', async () => {
  const session = new TestSession(client, 'valid');
  const shares = [...Array.from({ length: 20 }, () => session.share(nodeA, 1, 3)), ...Array.from({ length: 10 }, () => session.share(nodeB, 0, 2))];
  const verdicts = await rpc.submitShares(shares, [session.receipt]);
  assert.deepEqual(verdicts.map((v) => [v.accepted, v.message]), shares.map(() => [true, '']));
  assert.deepEqual(verdicts.map((v) => hex(v.shareHash)), shares.map((s) => shareHashOf(s.payload).toString('hex')));
  accepted.push(...verdicts.map((v) => hex(v.shareHash)));
  acceptedShares.push(...shares);
  await waitFor('every accepted share in a block', async () => (await rpc.head()).pendingShares === 0);
  const { counts, sizes } = await canonicalShares();
  for (const h of accepted) assert.equal(counts.get(h), 1, `share ${h} in exactly one block`);
  assert.ok(sizes.every((n) => n <= params.maxSharesPerBlock));
});

test('forged, replayed, receipt-less, over-receipt and malformed shares are rejected with precise errors, state unchanged', async () => {
  await waitFor('the unheard node to be evicted', async () => {
    const probe = new TestSession(client, 'probe', [0, 0, 0]);
    const [verdict] = await rpc.submitShares([probe.share(evicted, 2)], [probe.receipt]);
    return verdict!.rejection === 'SHARE_EVICTED_NODE';
  });
  const session = new TestSession(client, 'attacks', [5, 5, 5]);
  const otherSession = new TestSession(client, 'other');
  const stranger = generateKeyPair();
  const sneaky = new TestSession(stranger, 'sneaky');
  const badReceipt = { payload: sneaky.receipt.payload, signature: sign(stranger, RECEIPT_DOMAIN, canonicalJson({ not: 'it' })) };
  const forgedSig = session.share(nodeA, 1);
  const replay = acceptedShares[0]!;
  const cases: [string, { payload: Uint8Array; signature: Uint8Array }, RegExp][] = [
    ['SHARE_WRONG_KEY', session.share(nodeA, 1, 1, {}, stranger), new RegExp(`signed by ${stranger.address}, not by the share key node ${nodeA.address} registered`)],
    ['SHARE_BAD_SIGNATURE', { payload: forgedSig.payload, signature: Uint8Array.from(forgedSig.signature, (b, i) => (i === 64 ? 7 : b)) }, /malformed/],
    ['SHARE_DUPLICATE', replay, /already accepted and is in a block/],
    ['SHARE_UNKNOWN_NODE', session.share(stranger, 1), new RegExp(`node ${stranger.address} is not registered`)],
    ['SHARE_EVICTED_NODE', session.share(evicted, 2), /is evicted; it must register again/],
    ['SHARE_WRONG_SHARD', session.share(nodeA, 2), /serves shard 1 of "tiny", not shard 2/],
    ['SHARE_NO_RECEIPT', otherSession.share(nodeA, 1), new RegExp(`no receipt ${otherSession.receiptHash}`)],
    ['SHARE_BAD_RECEIPT', sneaky.share(nodeA, 1), /receipt .* is not signed by its client/],
    ['SHARE_RECEIPT_MISMATCH', session.share(nodeA, 1, 1, { sessionHash: otherSession.sessionHash }), /is for session/],
    ['SHARE_OVER_RECEIPT', session.share(nodeB, 0, 6), /0 tokens already claimed \+ 6 exceeds the 5 the receipt allows/],
    ['SHARE_MALFORMED', { payload: new TextEncoder().encode('{"nodeId": 1}'), signature: new Uint8Array(65) }, /not canonical/],
  ];
  const before = ledger();
  const verdicts = await rpc.submitShares(cases.map((c) => c[1]), [session.receipt, badReceipt]);
  verdicts.forEach((v, i) => {
    assert.equal(v.accepted, false, cases[i]![0]);
    assert.equal(v.rejection, cases[i]![0]);
    assert.match(v.message, cases[i]![2]);
  });
  assert.deepEqual(ledger(), before);

  // The receipt allows 5 tokens per shard: within it the session's shares pass, beyond it they do not.
  const within = [session.share(nodeB, 0, 3), session.share(nodeB, 0, 2)];
  const again = within[0]!;
  const last = await rpc.submitShares([...within, again, session.share(nodeB, 0, 1)], [session.receipt]);
  assert.deepEqual(last.map((v) => v.rejection ?? 'accepted'), ['accepted', 'accepted', 'SHARE_DUPLICATE', 'SHARE_OVER_RECEIPT']);
  assert.match(last[2]!.message, /sent twice in this batch/);
  accepted.push(hex(last[0]!.shareHash), hex(last[1]!.shareHash));
});

test('the base fee moves at most 1/8 per block: up while blocks are full, down while they are empty', async () => {
  const session = new TestSession(client, 'busy');
  const shares = Array.from({ length: 6 * params.maxSharesPerBlock }, () => session.share(nodeA, 1));
  const verdicts = await rpc.submitShares(shares, [session.receipt]);
  assert.ok(verdicts.every((v) => v.accepted));
  accepted.push(...verdicts.map((v) => hex(v.shareHash)));
  await waitFor('the busy shares in blocks and two empty blocks after them', async () => {
    const { sizes } = await canonicalShares();
    return (await rpc.head()).pendingShares === 0 && sizes.at(-1) === 0 && sizes.at(-2) === 0;
  }, 20_000);
  const { counts, fees, sizes } = await canonicalShares();
  for (const h of accepted) assert.equal(counts.get(h), 1, `share ${h} in exactly one block`);
  let rose = 0;
  let fell = 0;
  for (let i = 1; i < fees.length; i++) {
    assert.ok(Math.abs(fees[i]! - fees[i - 1]!) <= Math.max(1, fees[i - 1]! / 8), `block ${i + 1}: fee ${fees[i - 1]} -> ${fees[i]}`);
    assert.equal(fees[i], nextBaseFee({ ...params, initialBaseFee: 1000, minBaseFee: 8 }, fees[i - 1]!, sizes[i - 1]!));
    if (sizes[i - 1] === params.maxSharesPerBlock) rose += fees[i]! > fees[i - 1]! ? 1 : 0;
    if (sizes[i - 1] === 0) fell += fees[i]! < fees[i - 1]! ? 1 : 0;
  }
  assert.ok(rose >= 5, `the fee rose after ${rose} full blocks`);
  assert.ok(fell >= 1, `the fee fell after ${fell} empty blocks`);
  const estimate = await rpc.feeEstimate();
  const head = (await rpc.head()).head.header;
  assert.equal(estimate.headHeight >= head.height, true);
  assert.equal(estimate.targetShares, params.maxSharesPerBlock / 2);
});

test('a settlement summary adds up a complete window, an incomplete one is refused, and blocks are found by hash', async () => {
  const summary = await rpc.settlementSummary(0);
  const { blocks } = await rpc.blocks(summary.fromHeight, summary.toHeight);
  const tokens = blocks.reduce((sum, b) => sum + b.header.tokens, 0);
  assert.equal(summary.totalTokens, tokens);
  assert.equal(summary.totalShares, blocks.reduce((sum, b) => sum + b.header.shareCount, 0));
  assert.equal(summary.totalFees, blocks.reduce((sum, b) => sum + b.header.tokens * b.header.baseFeePerToken, 0));
  assert.equal(summary.lastBlockHash, hex(blocks.at(-1)!.hash));
  const busiest = blocks.reduce((a, b) => (b.header.shareCount > a.header.shareCount ? b : a));
  const byHash = await rpc.block(busiest.hash);
  assert.deepEqual(byHash.shares.map((s) => hex(s.payload)), busiest.shares.map((s) => hex(s.payload)));
  assert.deepEqual((await rpc.block(busiest.hash, true)).shares, [], 'headers only');
  await assert.rejects(rpc.block(10_000), /NOT_FOUND: no block at height 10000/);
  await assert.rejects(rpc.settlementSummary(10_000), /FAILED_PRECONDITION: settlement window 10000 ends at height 40004/);
});
