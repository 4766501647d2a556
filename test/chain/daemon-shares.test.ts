import { hex } from '../../src/crypto/hash.ts';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { canonicalJson } from '../../src/crypto/canonical-json.ts';
import { generateKeyPair, type KeyPair } from '../../src/crypto/keys.ts';
import { sign } from '../../src/crypto/signature.ts';

import { startDaemon, type DaemonHandle } from '../../src/chain/daemon.ts';
import { DaemonClient } from '../../src/chain/daemon-client.ts';
import { RegistryMembership } from '../../src/chain/membership.ts';
import { ShareState } from '../../src/chain/store.ts';
import { nextBaseFee } from '../../src/chain/fee.ts';
import { DEFAULT_CHAIN_PARAMS } from '../../src/chain/params.ts';
import { RECEIPT_DOMAIN } from '../../src/protocol/receipt.ts';
import { shareHashOf, shareSigner } from '../../src/protocol/share.ts';
import { signBatch, signStatement, type ShareBatch } from '../../src/protocol/share-batch.ts';
import {
  daemonRegistry,
  startChainNetwork,
  joinNode,
  TestSession,
  type ChainNetwork,
} from '../support/daemon-fixtures.ts';
import { removeDir, tempDir, waitFor } from '../support/registry-fixtures.ts';

const params = { blockIntervalMs: 150, maxSharesPerBlock: 8, windowBlocks: 4 };
const client = generateKeyPair();
const nodeA = generateKeyPair();
const nodeB = generateKeyPair();
const evicted = generateKeyPair();
/** Holds shards [0, 3) of `tiny`: it may run any span of them as any hop of a route. */
const spanning = generateKeyPair();
/** The node of each hop: whom the sessions' receipts pay. */
const route = [nodeB, nodeA, evicted];
let dir: string;
let network: ChainNetwork;
let daemon: DaemonHandle;
let rpc: DaemonClient;
const stops: (() => Promise<void>)[] = [];

before(async () => {
  dir = tempDir('daemon-shares');
  network = await startChainNetwork(dir);
  stops.push(
    await joinNode(network.registry, nodeA, 1),
    await joinNode(network.registry, nodeB, 0),
    await joinNode(network.registry, evicted, 2, false),
    await joinNode(network.registry, spanning, { start: 0, end: 3 }),
  );
  daemon = await startDaemon({
    port: 0,
    dbPath: join(dir, 'chain.db'),
    ...daemonRegistry(network, generateKeyPair()),
    params,
    verifyThreads: 1,
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

/** Every canonical block with its share hashes, and the node each share's statement proves it is of. */
async function canonicalShares(): Promise<{
  counts: Map<string, number>;
  signers: Map<string, string | undefined>;
  fees: number[];
  sizes: number[];
}> {
  const counts = new Map<string, number>();
  const signers = new Map<string, string | undefined>();
  const fees: number[] = [];
  const sizes: number[] = [];
  const { head } = await rpc.head();
  for (let next = 1; next <= head.header.height;) {
    const { blocks } = await rpc.blocks(next, head.header.height);
    for (const block of blocks) {
      fees.push(block.header.baseFeePerToken);
      sizes.push(block.header.shareCount);
      for (const share of block.shares) {
        const h = shareHashOf(share.payload).toString('hex');
        counts.set(h, (counts.get(h) ?? 0) + 1);
        signers.set(h, shareSigner(share));
      }
    }
    next = blocks.at(-1)!.header.height + 1;
  }
  return { counts, signers, fees, sizes };
}

/** One share alone in a batch its node signs. */
const alone = (node: KeyPair, share: Uint8Array): ShareBatch => signBatch(node, [share]);
const hashOf = (share: Uint8Array) => shareHashOf(share).toString('hex');

/** What a rejected batch must leave exactly as it was: shares, receipts and claimed tokens. */
function ledger(): unknown {
  const db = new Database(join(dir, 'chain.db'), { readonly: true });
  try {
    return {
      shares: db.prepare('SELECT hex(hash) AS h FROM shares ORDER BY hash').all(),
      receipts: db.prepare('SELECT hex(hash) AS h FROM receipts ORDER BY hash').all(),
      usage: db
        .prepare('SELECT session_hash, shard_index, chain_tokens + pending_tokens AS claimed FROM usage ORDER BY 1, 2')
        .all(),
    };
  } finally {
    db.close();
  }
}

const accepted: string[] = [];
const acceptedBatches: ShareBatch[] = [];

test('valid shares are accepted once durable and land in blocks, each exactly once with the statement that signs it', async () => {
  const session = new TestSession(client, 'valid', route);
  const ofA = Array.from({ length: 20 }, () => session.share(nodeA, 1, 3));
  const ofB = Array.from({ length: 10 }, () => session.share(nodeB, 0, 2));
  const batches = [signBatch(nodeA, ofA), signBatch(nodeB, ofB)];
  const verdicts = await rpc.submitShares(batches, [session.receipt]);
  const shares = [...ofA, ...ofB];
  assert.deepEqual(
    verdicts.map((v) => [v.accepted, v.message]),
    shares.map(() => [true, '']),
  );
  assert.deepEqual(
    verdicts.map((v) => hex(v.shareHash)),
    shares.map(hashOf),
  );
  accepted.push(...verdicts.map((v) => hex(v.shareHash)));
  acceptedBatches.push(...batches);
  await waitFor('every accepted share in a block', async () => (await rpc.head()).pendingShares === 0);
  const { counts, signers, sizes } = await canonicalShares();
  for (const h of accepted) assert.equal(counts.get(h), 1, `share ${h} in exactly one block`);
  for (const s of ofA) assert.equal(signers.get(hashOf(s)), nodeA.address);
  for (const s of ofB) assert.equal(signers.get(hashOf(s)), nodeB.address);
  // Blocks of at most 8 shares split the batch of 20: each block carries the statement for its part.
  assert.ok(sizes.every((n) => n <= params.maxSharesPerBlock));
});

test('forged, replayed, receipt-less, over-receipt and malformed shares are rejected with precise errors, state unchanged', async () => {
  await waitFor('the unheard node to be evicted', async () => {
    const probe = new TestSession(client, 'probe', route, [0, 0, 0]);
    const [verdict] = await rpc.submitShares([alone(evicted, probe.share(evicted, 2))], [probe.receipt]);
    return verdict!.rejection === 'SHARE_EVICTED_NODE';
  });
  const session = new TestSession(client, 'attacks', route, [5, 5, 5]);
  const otherSession = new TestSession(client, 'other', route);
  const otherModel = new TestSession(client, 'other-model', route, [5, 5, 5], 'huge');
  const stranger = generateKeyPair();
  const sneaky = new TestSession(stranger, 'sneaky', route);
  const badReceipt = {
    payload: sneaky.receipt.payload,
    signature: sign(stranger, RECEIPT_DOMAIN, canonicalJson({ not: 'it' })),
  };
  const forged = alone(nodeA, session.share(nodeA, 1));
  const byStranger = session.share(nodeA, 1);
  const malformed = new TextEncoder().encode('{"nodeId": 1}');
  const unlisted = session.share(nodeA, 1);
  const ofA = session.share(nodeA, 1);
  // Each case is a batch of its own: one verdict per case.
  const cases: [string, ShareBatch, RegExp][] = [
    [
      'SHARE_WRONG_KEY',
      { statement: signStatement(stranger, [hashOf(byStranger)], nodeA.address), shares: [byStranger] },
      new RegExp(`signed by ${stranger.address}, not by the share key node ${nodeA.address} registered`),
    ],
    [
      'SHARE_BAD_SIGNATURE',
      {
        statement: {
          ...forged.statement,
          signature: Uint8Array.from(forged.statement.signature, (b, i) => (i === 64 ? 7 : b)),
        },
        shares: forged.shares,
      },
      /malformed/,
    ],
    [
      'SHARE_DUPLICATE',
      { statement: acceptedBatches[0]!.statement, shares: [acceptedBatches[0]!.shares[0]!] },
      /already accepted and is in a block/,
    ],
    [
      'SHARE_UNKNOWN_NODE',
      alone(stranger, session.share(stranger, 1)),
      new RegExp(`node ${stranger.address} is not registered`),
    ],
    ['SHARE_EVICTED_NODE', alone(evicted, session.share(evicted, 2)), /is evicted; it must register again/],
    [
      'SHARE_WRONG_SHARD',
      alone(nodeA, otherModel.share(nodeA, 1)),
      new RegExp(`receipt is for model "huge"; node ${nodeA.address} serves "tiny"`),
    ],
    [
      'SHARE_NOT_ON_ROUTE',
      alone(nodeA, session.share(nodeA, 2)),
      new RegExp(`pays ${evicted.address} for hop 2 of its route, not ${nodeA.address}`),
    ],
    ['SHARE_RECEIPT_MISMATCH', alone(nodeA, session.share(nodeA, 3)), /receipt counts 3 hops, none at position 3/],
    [
      'SHARE_NO_RECEIPT',
      alone(nodeA, otherSession.share(nodeA, 1)),
      new RegExp(`no receipt ${otherSession.receiptHash}`),
    ],
    ['SHARE_BAD_RECEIPT', alone(nodeA, sneaky.share(nodeA, 1)), /receipt .* is not signed by its client/],
    [
      'SHARE_RECEIPT_MISMATCH',
      alone(nodeA, session.share(nodeA, 1, 1, { sessionHash: otherSession.sessionHash })),
      /is for session/,
    ],
    [
      'SHARE_OVER_RECEIPT',
      alone(nodeB, session.share(nodeB, 0, 6)),
      /0 tokens already claimed \+ 6 exceeds the 5 the receipt allows/,
    ],
    ['SHARE_MALFORMED', alone(nodeA, malformed), /share payload is not canonical/],
    [
      'SHARE_MALFORMED',
      { statement: { payload: malformed, signature: new Uint8Array(65) }, shares: [session.share(nodeA, 1)] },
      /share-batch statement payload is not canonical/,
    ],
    [
      'SHARE_NOT_LISTED',
      { statement: signStatement(nodeA, ['ab'.repeat(32)]), shares: [unlisted] },
      new RegExp(`share ${hashOf(unlisted)} is not listed in its batch's statement`),
    ],
    [
      'SHARE_WRONG_KEY',
      { statement: signStatement(nodeB, [hashOf(ofA)]), shares: [ofA] },
      new RegExp(`is of node ${nodeA.address}, but its statement is for node ${nodeB.address}`),
    ],
  ];
  const before = ledger();
  const verdicts = await rpc.submitShares(
    cases.map((c) => c[1]),
    [session.receipt, badReceipt, otherModel.receipt],
  );
  verdicts.forEach((v, i) => {
    assert.equal(v.accepted, false, cases[i]![0]);
    assert.equal(v.rejection, cases[i]![0]);
    assert.match(v.message, cases[i]![2]);
  });
  assert.deepEqual(ledger(), before);

  // The receipt allows 5 tokens per hop: within it the session's shares pass, beyond it they do not.
  const within = [session.share(nodeB, 0, 3), session.share(nodeB, 0, 2)];
  const again = within[0]!;
  const last = await rpc.submitShares(
    [signBatch(nodeB, [...within, again, session.share(nodeB, 0, 1)])],
    [session.receipt],
  );
  assert.deepEqual(
    last.map((v) => v.rejection ?? 'accepted'),
    ['accepted', 'accepted', 'SHARE_DUPLICATE', 'SHARE_OVER_RECEIPT'],
  );
  assert.match(last[2]!.message, /sent twice in this request/);
  accepted.push(hex(last[0]!.shareHash), hex(last[1]!.shareHash));
});

test("a statement vouches for exactly the shares it lists, of its own node, with its node's key: bad ones fail alone, a bad signature fails its whole batch", async () => {
  const session = new TestSession(client, 'statements', route);
  const [s1, s2, s3, s4, s5, s6, s7] = Array.from({ length: 7 }, () => session.share(nodeA, 1));
  const x = signBatch(nodeA, [s1!, s2!]);
  const y = signBatch(nodeA, [s3!]);
  const z = signBatch(nodeA, [s7!]);
  const before = ledger();
  const refused = await rpc.submitShares(
    [
      // A statement by another node's key, for nodeA's shares: every share of the batch is refused.
      { statement: signStatement(nodeB, [hashOf(s4!), hashOf(s5!)], nodeA.address), shares: [s4!, s5!] },
      // A signature that recovers no key: the same.
      { statement: { ...x.statement, signature: new Uint8Array(65) }, shares: x.shares },
      // nodeA's signature with its recovery byte flipped: it still verifies against nodeA's key, but names another signer.
      {
        statement: {
          ...z.statement,
          signature: Uint8Array.from(z.statement.signature, (b, i) => (i === 64 ? b ^ 1 : b)),
        },
        shares: z.shares,
      },
    ],
    [session.receipt],
  );
  assert.deepEqual(
    refused.map((v) => v.rejection),
    ['SHARE_WRONG_KEY', 'SHARE_WRONG_KEY', 'SHARE_BAD_SIGNATURE', 'SHARE_BAD_SIGNATURE', 'SHARE_WRONG_KEY'],
  );
  assert.match(
    refused[0]!.message,
    new RegExp(`signed by ${nodeB.address}, not by the share key node ${nodeA.address} registered`),
  );
  assert.deepEqual(ledger(), before);

  // s1 moved from batch x into batch y: y's statement does not list it, so only s1 is refused.
  const moved = await rpc.submitShares([{ statement: y.statement, shares: [s3!, s1!] }], [session.receipt]);
  assert.deepEqual(
    moved.map((v) => v.rejection ?? 'accepted'),
    ['accepted', 'SHARE_NOT_LISTED'],
  );
  assert.match(moved[1]!.message, new RegExp(`share ${hashOf(s1!)} is not listed in its batch's statement`));
  // x itself still vouches for s1 and s2.
  const own = await rpc.submitShares([x], [session.receipt]);
  assert.deepEqual(
    own.map((v) => v.rejection ?? 'accepted'),
    ['accepted', 'accepted'],
  );
  // x replayed with another share set: what it does not list is refused, what it lists is a duplicate.
  const replayed = await rpc.submitShares([{ statement: x.statement, shares: [s6!, s2!] }], [session.receipt]);
  assert.deepEqual(
    replayed.map((v) => v.rejection),
    ['SHARE_NOT_LISTED', 'SHARE_DUPLICATE'],
  );
  accepted.push(hashOf(s1!), hashOf(s2!), hashOf(s3!));
  const stored = new Database(join(dir, 'chain.db'), { readonly: true });
  try {
    const held = (h: string) =>
      stored.prepare('SELECT 1 FROM shares WHERE hash = ?').get(Buffer.from(h, 'hex')) !== undefined;
    assert.deepEqual(
      [s1, s2, s3, s4, s5, s6, s7].map((s) => held(hashOf(s!))),
      [true, true, true, false, false, false, false],
    );
  } finally {
    stored.close();
  }
});

test('the base fee moves at most 1/8 per block: up while blocks are full, down while they are empty', async () => {
  const session = new TestSession(client, 'busy', route);
  const shares = Array.from({ length: 6 * params.maxSharesPerBlock }, () => session.share(nodeA, 1));
  const verdicts = await rpc.submitShares([signBatch(nodeA, shares)], [session.receipt]);
  assert.ok(verdicts.every((v) => v.accepted));
  accepted.push(...verdicts.map((v) => hex(v.shareHash)));
  await waitFor(
    'the busy shares in blocks and two empty blocks after them',
    async () => {
      const { sizes } = await canonicalShares();
      return (await rpc.head()).pendingShares === 0 && sizes.at(-1) === 0 && sizes.at(-2) === 0;
    },
    20_000,
  );
  const { counts, fees, sizes } = await canonicalShares();
  for (const h of accepted) assert.equal(counts.get(h), 1, `share ${h} in exactly one block`);
  let rose = 0;
  let fell = 0;
  for (let i = 1; i < fees.length; i++) {
    assert.ok(
      Math.abs(fees[i]! - fees[i - 1]!) <= Math.max(1, fees[i - 1]! / 8),
      `block ${i + 1}: fee ${fees[i - 1]} -> ${fees[i]}`,
    );
    assert.equal(
      fees[i],
      nextBaseFee(
        { ...DEFAULT_CHAIN_PARAMS, ...params, initialBaseFee: 1000, minBaseFee: 8 },
        fees[i - 1]!,
        sizes[i - 1]!,
      ),
    );
    if (sizes[i - 1] === params.maxSharesPerBlock) rose += fees[i]! > fees[i - 1]! ? 1 : 0;
    if (sizes[i - 1] === 0) fell += fees[i]! < fees[i - 1]! ? 1 : 0;
  }
  assert.ok(rose >= 5, `the fee rose after ${rose} full blocks`);
  assert.ok(fell >= 1, `the fee fell after ${fell} empty blocks`);
  // The head first: a block may come between the two calls, never go.
  const head = (await rpc.head()).head.header;
  const estimate = await rpc.feeEstimate();
  assert.equal(estimate.headHeight >= head.height, true);
  assert.equal(estimate.targetShares, params.maxSharesPerBlock / 2);
});

test('a settlement summary adds up a complete window, an incomplete one is refused, and blocks are found by hash', async () => {
  const summary = await rpc.settlementSummary(0);
  const { blocks } = await rpc.blocks(summary.fromHeight, summary.toHeight);
  const tokens = blocks.reduce((sum, b) => sum + b.header.tokens, 0);
  assert.equal(summary.totalTokens, tokens);
  assert.equal(
    summary.totalShares,
    blocks.reduce((sum, b) => sum + b.header.shareCount, 0),
  );
  assert.equal(
    summary.totalFees,
    blocks.reduce((sum, b) => sum + BigInt(b.header.tokens) * BigInt(b.header.baseFeePerToken), 0n),
  );
  assert.equal(
    summary.totalFees,
    summary.flows.reduce((sum, f) => sum + f.fees, 0n),
    'the flows (client pays node) add up to the total',
  );
  assert.equal(summary.lastBlockHash, hex(blocks.at(-1)!.hash));
  const busiest = blocks.reduce((a, b) => (b.header.shareCount > a.header.shareCount ? b : a));
  const byHash = await rpc.block(busiest.hash);
  assert.deepEqual(
    byHash.shares.map((s) => hex(s.payload)),
    busiest.shares.map((s) => hex(s.payload)),
  );
  assert.deepEqual((await rpc.block(busiest.hash, true)).shares, [], 'headers only');
  await assert.rejects(rpc.block(10_000), /NOT_FOUND: no block at height 10000/);
  await assert.rejects(
    rpc.settlementSummary(10_000),
    /FAILED_PRECONDITION: settlement window 10000 ends at height 40004/,
  );
});

test("a node holding shards [0, 3) is paid as hop 1 of a route over spans: admitted, counted against hop 1's cap, in a block; hop 0 stays the node the receipt names", async () => {
  const membership = new RegistryMembership(network.membership, { ttlMs: 0 });
  try {
    const member = (await membership.lookup([spanning.address])).get(spanning.address);
    assert.deepEqual([member?.shardIndex, member?.shardEnd], [0, 3], 'the registry answers the held span');
  } finally {
    membership.close();
  }
  // nodeB runs shard 0 as hop 0, spanning runs shards [1, 3) of its [0, 3) as hop 1.
  const session = new TestSession(client, 'spans', [nodeB, spanning], [4, 4]);
  const ofSpanning = [session.share(spanning, 1, 3)];
  const first = await rpc.submitShares([signBatch(spanning, ofSpanning)], [session.receipt]);
  assert.deepEqual(
    first.map((v) => [v.accepted, v.message]),
    [[true, '']],
  );
  const claimed = () => {
    const db = new Database(join(dir, 'chain.db'), { readonly: true });
    try {
      return db
        .prepare(
          'SELECT shard_index AS hop, chain_tokens + pending_tokens AS tokens FROM usage WHERE session_hash = ? ORDER BY 1',
        )
        .all(session.sessionHash);
    } finally {
      db.close();
    }
  };
  assert.deepEqual(claimed(), [{ hop: 1, tokens: 3 }]);

  // The cap is hop 1's: 3 + 2 exceeds its 4. Hop 0 of the receipt is nodeB's, though spanning holds shard 0.
  const before = ledger();
  const refused = await rpc.submitShares(
    [signBatch(spanning, [session.share(spanning, 1, 2)]), signBatch(spanning, [session.share(spanning, 0, 1)])],
    [session.receipt],
  );
  assert.deepEqual(
    refused.map((v) => v.rejection),
    ['SHARE_OVER_RECEIPT', 'SHARE_NOT_ON_ROUTE'],
  );
  assert.match(refused[0]!.message, /hop 1: 3 tokens already claimed \+ 2 exceeds the 4 the receipt allows/);
  assert.match(
    refused[1]!.message,
    new RegExp(`pays ${nodeB.address} for hop 0 of its route, not ${spanning.address}`),
  );
  assert.deepEqual(ledger(), before);

  // Each hop's claim is its own: nodeB takes all 4 tokens of hop 0, spanning the last one of hop 1.
  const ofNodeB = [session.share(nodeB, 0, 4)];
  ofSpanning.push(session.share(spanning, 1, 1));
  const rest = await rpc.submitShares(
    [signBatch(nodeB, ofNodeB), signBatch(spanning, ofSpanning.slice(1))],
    [session.receipt],
  );
  assert.deepEqual(
    rest.map((v) => v.rejection ?? 'accepted'),
    ['accepted', 'accepted'],
  );
  assert.deepEqual(claimed(), [
    { hop: 0, tokens: 4 },
    { hop: 1, tokens: 4 },
  ]);
  await waitFor("the spanning node's shares in the canonical chain", () =>
    [...ofSpanning, ...ofNodeB].every((p) => daemon.chain.store.shareState(shareHashOf(p)) === ShareState.Chain),
  );
  const { signers } = await canonicalShares();
  for (const p of ofSpanning) assert.equal(signers.get(hashOf(p)), spanning.address);
});
