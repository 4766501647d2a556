// Attacks on payouts, each by a stranger with free keys: a node key and a client key of its own,
// registered like anyone. The network's promise is that operators are paid for the work their
// clients' receipts name, from those clients' deposits, and nobody else is. Each attack is refused
// with its precise reason and changes nothing; honest work submitted meanwhile is accepted, lands in
// blocks and is paid in full, to the unit, by the registry's settlement of the final chain.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { canonicalJson } from '../../src/crypto/canonical-json.ts';
import { hex } from '../../src/crypto/hash.ts';
import { generateKeyPair, type KeyPair } from '../../src/crypto/keys.ts';
import { DaemonClient } from '../../src/chain/daemon-client.ts';
import { startDaemon, type DaemonHandle } from '../../src/chain/daemon.ts';
import { windowRange } from '../../src/chain/summary.ts';
import { LedgerBackend } from '../../src/escrow/ledger-backend.ts';
import { AuditStore } from '../../src/registry/audit-store.ts';
import { storeDirectory } from '../../src/registry/member-directory.ts';
import { RegistryClient } from '../../src/registry/registry-client.ts';
import { Settler } from '../../src/registry/settlement.ts';
import { clientAddressOf, MAX_RECEIPT_TOKENS, openReceipt, receiptHashOf } from '../../src/protocol/receipt.ts';
import { MAX_SHARE_TOKENS, openShare, shareHashOf } from '../../src/protocol/share.ts';
import { signBatch } from '../../src/protocol/share-batch.ts';
import {
  daemonRegistry,
  joinNode,
  startChainNetwork,
  TestSession,
  type ChainNetwork,
} from '../support/daemon-fixtures.ts';
import { nodeBody, removeDir, tempDir, waitFor } from '../support/registry-fixtures.ts';

const params = { blockIntervalMs: 100, windowBlocks: 4, finalityDepth: 2, maxSharesPerBlock: 64 };
const honest = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
/** Registered holding every shard of `tiny` (so any hop's): a node that serves nothing and wants paying. */
const attackerNode = generateKeyPair();
const clientA = generateKeyPair();
const clientB = generateKeyPair();
/** Signs receipts as freely as anyone; deposited nothing. */
const attackerClient = generateKeyPair();

let dir: string;
let network: ChainNetwork;
let daemon: DaemonHandle;
let rpc: DaemonClient;
const cleanups: (() => Promise<void> | void)[] = [];
/** Shares the daemon accepted, by hash: what settlement must pay for, and nothing else. */
const accepted = new Set<string>();

before(async () => {
  dir = tempDir('attack-payouts');
  cleanups.push(() => removeDir(dir));
  network = await startChainNetwork(dir);
  cleanups.push(() => network.close());
  for (const [key, held] of [...honest.map((k, i) => [k, i] as const), [attackerNode, { start: 0, end: 3 }] as const]) {
    const stop = await joinNode(network.registry, key, held);
    if (key !== honest[2]) cleanups.push(stop);
    else leave = stop;
  }
  daemon = await startDaemon({
    port: 0,
    dbPath: join(dir, 'chain.db'),
    ...daemonRegistry(network, generateKeyPair()),
    params,
    syncIntervalMs: 100,
    verifyThreads: 1,
  });
  cleanups.push(() => daemon.close());
  rpc = new DaemonClient(daemon.endpoint);
  cleanups.push(() => rpc.close());
});
let leave: () => Promise<void>;

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Submits one batch of `node`'s shares with their receipts; the verdicts as [accepted, rejection]. */
async function submit(node: KeyPair, shares: Uint8Array[], receipts = [] as TestSession[]) {
  const verdicts = await rpc.submitShares(
    [signBatch(node, shares)],
    receipts.map((s) => s.receipt),
  );
  for (const v of verdicts) if (v.accepted) accepted.add(hex(v.shareHash));
  return verdicts.map((v) => [v.accepted, v.rejection ?? '', v.message] as const);
}

/** An honest batch of every node of `session`, each share `tokens` tokens: all must be accepted. */
async function honestWork(session: TestSession, tokens: number) {
  for (const [shard, node] of honest.entries()) {
    const verdicts = await submit(node, [session.share(node, shard, tokens)], [session]);
    assert.deepEqual(
      verdicts.map(([ok, reason]) => [ok, reason]),
      [[true, '']],
      verdicts[0]![2],
    );
  }
}

const pending = async () => (await rpc.head()).pendingShares;

test('an inflated weight is no field at all: the share is refused as malformed, state unchanged', async () => {
  const session = new TestSession(attackerClient, 'inflated', [honest[0]!, attackerNode, honest[2]!]);
  const share = openShare(session.share(attackerNode, 1, 1));
  const inflated = canonicalJson({ ...share, weight: 10 ** 12 });
  const before = await pending();
  const [[ok, reason, message]] = await submit(attackerNode, [inflated], [session]);
  assert.deepEqual([ok, reason], [false, 'SHARE_MALFORMED']);
  assert.match(message, /unexpected weight/);
  assert.equal(daemon.chain.store.shareState(shareHashOf(inflated)), undefined);
  assert.equal(await pending(), before);
  await honestWork(new TestSession(clientA, 'meanwhile-1', honest), 3);
});

test('an unsafe-integer count is refused (share and receipt), and blocks keep coming', async () => {
  const unsafe = 2 ** 53 - 1;
  const huge = new TestSession(attackerClient, 'unsafe', [honest[0]!, attackerNode, honest[2]!], [1, unsafe, 1]);
  const [[ok1, reason1]] = await submit(attackerNode, [huge.share(attackerNode, 1, MAX_SHARE_TOKENS)], [huge]);
  assert.deepEqual([ok1, reason1], [false, 'SHARE_BAD_RECEIPT'], 'a receipt may count at most 2^32 tokens a shard');
  const fair = new TestSession(
    attackerClient,
    'fair-receipt',
    [honest[0]!, attackerNode, honest[2]!],
    [1, MAX_RECEIPT_TOKENS, 1],
  );
  const [[ok2, reason2, message2]] = await submit(attackerNode, [fair.share(attackerNode, 1, unsafe)], [fair]);
  assert.deepEqual([ok2, reason2], [false, 'SHARE_MALFORMED']);
  assert.match(message2, /tokensProcessed \(1 to 1048576\)/);
  const height = daemon.chain.head().height;
  await honestWork(new TestSession(clientA, 'meanwhile-2', honest), 2);
  await waitFor('blocks after the attempt, holding the honest shares', async () =>
    daemon.chain.head().height > height + 2 && (await pending()) === 0 ? true : undefined,
  );
  for (let h = 1; h <= daemon.chain.head().height; h++)
    assert.ok(Number.isSafeInteger(daemon.chain.canonicalBlock(h)!.shareCount));
});

test("a receipt is claimed only by the node it names at that hop: another node's claim is refused, though it holds the hop's shards; the serving node is paid in full", async () => {
  const session = new TestSession(clientB, 'claimed', honest, [5, 5, 5]);
  const before = await pending();
  const claim = session.share(attackerNode, 1, 5);
  const [[ok, reason, message]] = await submit(attackerNode, [claim], [session]);
  assert.deepEqual([ok, reason], [false, 'SHARE_NOT_ON_ROUTE']);
  assert.match(message, new RegExp(`pays ${honest[1]!.address} for hop 1 of its route, not ${attackerNode.address}`));
  assert.equal(daemon.chain.store.shareState(shareHashOf(claim)), undefined);
  assert.equal(daemon.chain.store.usage(session.sessionHash, 1).pending, 0, 'nothing of hop 1 is claimed');
  assert.equal(await pending(), before);
  // The node that served claims all five tokens: nothing of the receipt was taken.
  await honestWork(session, 5);
});

test('settlement pays each node tokens × price from its own clients, to the unit; a client with no deposit pays nobody; a node that left is still paid', async () => {
  // The attacker's node serves the attacker's client (whose receipts are valid but backed by nothing).
  const free = new TestSession(attackerClient, 'free', [honest[0]!, attackerNode, honest[2]!]);
  for (const [node, shard] of [
    [honest[0]!, 0],
    [attackerNode, 1],
    [honest[2]!, 2],
  ] as const) {
    const verdicts = await submit(node, [free.share(node, shard, 7)], [free]);
    assert.deepEqual(
      verdicts.map(([ok]) => ok),
      [true],
      'a receipt without a deposit is still a valid receipt',
    );
  }
  await honestWork(new TestSession(clientB, 'b-more', honest), 4);
  // honest[2] shuts down gracefully: it unregisters before its windows settle.
  await leave();
  const registry = new RegistryClient(network.registry);
  await registry.unregister(
    honest[2]!,
    nodeBody(honest[2]!, { shardIndex: 2, shardEnd: 3, endpoint: '127.0.0.1:50102' }),
  );
  registry.close();

  await waitFor('every accepted share in a block', async () => ((await pending()) === 0 ? true : undefined), 30_000);
  const lastHeight = daemon.chain.head().height;
  const lastWindow = Math.floor((lastHeight - 1) / params.windowBlocks);
  await waitFor(
    'the last window final',
    () => daemon.chain.head().height >= windowRange({ ...params } as never, lastWindow).toHeight + params.finalityDepth,
    30_000,
  );

  const ledger = new LedgerBackend({ path: join(dir, 'ledger.db'), challengeWindowS: 0 });
  cleanups.push(() => ledger.close());
  const deposits = new Map([
    [clientA.address, 10n ** 12n],
    [clientB.address, 10n ** 12n],
  ]);
  for (const [client, amount] of deposits) await ledger.deposit(client, amount);
  const db = new Database(network.registryDb);
  cleanups.push(() => void db.close());
  new AuditStore(db);
  const settler = new Settler({
    backend: ledger,
    db,
    members: storeDirectory(db, 60_000),
    authorities: () => new Set([network.registryKey.address]),
  });
  const daemons = [new DaemonClient(daemon.endpoint)];
  cleanups.push(() => daemons[0]!.close());
  for (let w = 0; w <= lastWindow; w++) {
    const outcome = await settler.settle(w, daemons);
    assert.ok(
      outcome.status === 'posted' || outcome.status === 'empty',
      `window ${w}: ${JSON.stringify(outcome, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`,
    );
    if (outcome.status === 'posted')
      assert.equal((await settler.finalize(outcome.hash)).status, 'waiting', 'no verifier is live here');
  }

  // The expectation, from the blocks alone: Σ tokens × the block's base fee, over shares whose receipt's client deposited.
  const owed = new Map<string, bigint>();
  const charged = new Map<string, bigint>();
  for (let h = 1; h <= windowRange({ ...params } as never, lastWindow).toHeight; h++) {
    const block = daemon.chain.loadBlock(daemon.chain.canonicalBlock(h)!);
    const clients = new Map(
      block.receipts.map((r) => [receiptHashOf(r.payload).toString('hex'), clientAddressOf(openReceipt(r.payload))]),
    );
    for (const s of block.shares) {
      const share = openShare(s.payload);
      assert.ok(accepted.has(hex(shareHashOf(s.payload))), 'only accepted shares are in blocks');
      const client = clients.get(share.receiptHash)!;
      if (!deposits.has(client)) continue;
      const fee = BigInt(share.tokensProcessed) * BigInt(block.header.baseFeePerToken);
      owed.set(share.nodeId, (owed.get(share.nodeId) ?? 0n) + fee);
      charged.set(client, (charged.get(client) ?? 0n) + fee);
    }
  }
  const posted = new Map<string, bigint>();
  for (const record of settler.store.windows(['posted'])) {
    const state = await ledger.settlementState(record.hash);
    assert.equal(state.status, 'posted');
    for (const p of state.payouts) posted.set(p.node, (posted.get(p.node) ?? 0n) + p.amount);
  }
  for (const node of honest)
    assert.equal(posted.get(node.address), owed.get(node.address), `payout of ${node.address}`);
  assert.ok((owed.get(honest[2]!.address) ?? 0n) > 0n, 'the node that unregistered is paid for its work');
  assert.equal(
    posted.get(attackerNode.address),
    undefined,
    "the attacker's node is paid nothing: its client deposited nothing",
  );
  for (const [client, amount] of deposits)
    assert.equal(await ledger.balanceOf(client), amount - (charged.get(client) ?? 0n), `balance of ${client}`);
  assert.equal(await ledger.balanceOf(attackerClient.address), 0n);
});

test('a node caught cheating after its window was posted is not paid for it: the settlement is challenged and posted again without it', async () => {
  const session = new TestSession(clientA, 'caught', honest);
  // honest[2] left in the test before: the first two shards' nodes work.
  for (const shard of [0, 1]) {
    const [[ok, , message]] = await submit(honest[shard]!, [session.share(honest[shard]!, shard, 6)], [session]);
    assert.ok(ok, message);
  }
  await waitFor('the shares in a block', async () => ((await pending()) === 0 ? true : undefined), 30_000);
  const height = daemon.chain.head().height;
  const window = Math.floor((height - 1) / params.windowBlocks);
  await waitFor(
    'its window final',
    () => daemon.chain.head().height >= windowRange({ ...params } as never, window).toHeight + params.finalityDepth,
    30_000,
  );
  const ledger = new LedgerBackend({ path: join(dir, 'ledger-fraud.db'), challengeWindowS: 3_600 });
  cleanups.push(() => ledger.close());
  await ledger.deposit(clientA.address, 10n ** 12n);
  const db = new Database(join(dir, 'settler-fraud.db'));
  cleanups.push(() => void db.close());
  const audits = new AuditStore(db);
  const registryDb = new Database(network.registryDb, { readonly: true });
  cleanups.push(() => void registryDb.close());
  const settler = new Settler({
    backend: ledger,
    db,
    members: storeDirectory(registryDb, 60_000),
    authorities: () => new Set([network.registryKey.address]),
  });
  const daemons = [new DaemonClient(daemon.endpoint)];
  cleanups.push(() => daemons[0]!.close());
  const first = await settler.settle(window, daemons);
  assert.equal(first.status, 'posted', 'reason' in first ? first.reason : '');
  assert.ok(first.status === 'posted' && first.payouts.some((p) => p.node === honest[0]!.address));
  // A fraud proof against honest[0] is confirmed (the registry bans it) inside the challenge window.
  audits.ban(honest[0]!.address, 'ef'.repeat(32), Date.now());
  assert.deepEqual(await settler.challengeFraud(), [window]);
  assert.equal((await ledger.settlementState(first.hash)).status, 'challenged');
  assert.equal(await ledger.balanceOf(clientA.address), 10n ** 12n, "the challenge released the client's reserve");
  const again = await settler.settle(window, daemons);
  assert.equal(again.status, 'posted', 'reason' in again ? again.reason : '');
  if (again.status !== 'posted' || first.status !== 'posted') return;
  assert.deepEqual(
    again.payouts,
    first.payouts.filter((p) => p.node !== honest[0]!.address),
    'everyone else is paid exactly as before',
  );
  assert.equal(
    await ledger.balanceOf(clientA.address),
    10n ** 12n - again.debits.reduce((sum, d) => sum + d.amount, 0n),
  );
  // Nothing more to withhold: the window is not posted a third time.
  assert.equal((await settler.settle(window, daemons)).status, 'already');
});

test('settlement does not trust the first daemon listed: one serving another chain is passed over, and the window settles from an honest one', async () => {
  const rogue = await startDaemon({
    port: 0,
    dbPath: join(dir, 'rogue.db'),
    ...daemonRegistry(network, generateKeyPair()),
    // Its own rules make its own genesis: a chain with windows of one block.
    params: { ...params, windowBlocks: 1 },
    verifyThreads: 1,
  });
  cleanups.push(() => rogue.close());
  const ledger = new LedgerBackend({ path: join(dir, 'ledger-rogue.db'), challengeWindowS: 3_600 });
  cleanups.push(() => ledger.close());
  await ledger.deposit(clientA.address, 10n ** 12n);
  const db = new Database(join(dir, 'settler-rogue.db'));
  cleanups.push(() => void db.close());
  new AuditStore(db);
  const registryDb = new Database(network.registryDb, { readonly: true });
  cleanups.push(() => void registryDb.close());
  const events: string[] = [];
  const settler = new Settler({
    backend: ledger,
    db,
    members: storeDirectory(registryDb, 60_000),
    authorities: () => new Set([network.registryKey.address]),
    onEvent: (event) => void events.push(event),
  });
  const honestDaemon = new DaemonClient(daemon.endpoint);
  const rogueDaemon = new DaemonClient(rogue.endpoint);
  cleanups.push(
    () => honestDaemon.close(),
    () => rogueDaemon.close(),
  );
  const first = await settler.settle(0, [honestDaemon]);
  assert.notEqual(first.status, 'waiting', 'reason' in first ? first.reason : '');
  await waitFor('the rogue chain past window 1', () => rogue.chain.head().height > 1 + params.finalityDepth, 30_000);
  const second = await settler.settle(1, [rogueDaemon, honestDaemon]);
  assert.notEqual(second.status, 'waiting', 'reason' in second ? second.reason : '');
  assert.deepEqual(
    events.filter((e) => e === 'rejected'),
    ['rejected'],
    'the rogue daemon was checked and refused',
  );
  const alone = await settler.settle(2, [rogueDaemon]);
  assert.equal(alone.status, 'waiting');
  assert.match(
    (alone as { reason: string }).reason,
    /serves the chain of genesis [0-9a-f]{64}; this registry settles [0-9a-f]{64}/,
  );
});
