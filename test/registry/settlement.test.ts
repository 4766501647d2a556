// Settlement end to end on a local network (registry, daemon, verifier and 3 nodes as processes):
// a generation's shares land in blocks; the registry's Settler checks each final window against the
// blocks itself (its summary equals the daemon's), pays each node tokens × the block's base fee from
// the deposit of the client whose receipts name it, challenges a posted settlement once a fraud
// proof touches it and settles the window again without the cheat, and finalizes after the
// challenge window, on the SQLite ledger and on the escrow contract on a local EVM node (anvil).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { DaemonClient } from '../../src/chain/daemon-client.ts';
import type { SettlementSummary } from '../../src/chain/summary.ts';
import { connect } from '../../src/client/client.ts';
import { launchLocalCluster, type LocalCluster } from '../../src/cli/local-cluster.ts';
import { keyPairFromSecret } from '../../src/crypto/keys.ts';
import { deployEscrow, openEvmBackend } from '../../src/escrow/evm-backend.ts';
import { LedgerBackend } from '../../src/escrow/ledger-backend.ts';
import { startLocalEvm, type LocalEvm } from '../../src/escrow/local-evm.ts';
import { AuditStore } from '../../src/registry/audit-store.ts';
import type { SettlementBackend } from '../../src/registry/settlement-backend.ts';
import { storeDirectory } from '../../src/registry/member-directory.ts';
import { Settler, startSettlementLoop, type SettlerOptions } from '../../src/registry/settlement.ts';
import { testModel } from '../support/models.ts';

const WINDOW_BLOCKS = 10;
const workDir = mkdtempSync(join(tmpdir(), 'tessera-trust-settlement-'));
let evm: LocalEvm;
let cluster: LocalCluster;
let daemon: DaemonClient;
let registryDb: Database.Database;
let clientKey: Hex;
let nodeKeys: Hex[];
let authorities: Set<string>;
/** The complete windows that hold the generation's shares, as the daemon summarizes them. */
let summaries: SettlementSummary[];
const closers: (() => Promise<void>)[] = [];

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const value = await probe().catch((error: Error) => void (last = error.message));
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last === '' ? '' : ` (last error: ${last})`}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

before(async () => {
  evm = await startLocalEvm({ accounts: 8 });
  // The nodes and the client use funded EVM accounts, so the same parties can deposit and claim on chain.
  const [, , client, ...nodes] = evm.keys as Hex[];
  clientKey = client!;
  nodeKeys = nodes.slice(0, 3);
  mkdirSync(join(workDir, 'keys'), { recursive: true });
  nodeKeys.forEach((key, i) =>
    writeFileSync(join(workDir, 'keys', `node-${i}.key`), `${key.slice(2)}\n`, { mode: 0o600 }),
  );
  cluster = await launchLocalCluster({
    modelPath: testModel('stories260K.gguf'),
    shards: 3,
    spareShards: [],
    workDir,
    registryPort: 0,
    threadsPerNode: 1,
    blockIntervalMs: 200,
    windowBlocks: WINDOW_BLOCKS,
  });
  authorities = new Set(
    (JSON.parse(readFileSync(join(workDir, 'cluster.json'), 'utf8')) as { registryKeys: string[] }).registryKeys,
  );
  daemon = new DaemonClient(cluster.daemonEndpoint);
  registryDb = new Database(join(workDir, 'registry.db'));
  const sdk = await connect({
    registries: [cluster.registryEndpoint],
    cacheDir: join(workDir, 'client'),
    key: keyPairFromSecret(Buffer.from(clientKey.slice(2), 'hex')),
  });
  let steps: number;
  try {
    const { tokens, summary } = await sdk
      .generate({ model: cluster.manifest.modelId, prompt: 'Once upon a time', maxTokens: 24, temperature: 0 })
      .collect();
    steps = tokens.length + (summary.finishReason === 'stop' ? 1 : 0);
  } finally {
    sdk.close();
  }
  // One share per step per node, all in blocks: the height of the last block that holds one.
  const lastHeight = await until('the shares in blocks', async () => {
    const { head } = await daemon.head();
    let shares = 0;
    let last = 0;
    for (let h = 1; h <= head.header.height; h++) {
      const count = (await daemon.block(h, true)).header.shareCount;
      shares += count;
      if (count > 0) last = h;
    }
    return shares === steps * cluster.nodes.length ? last : undefined;
  });
  const lastWindow = Math.floor((lastHeight - 1) / WINDOW_BLOCKS);
  summaries = [];
  for (let w = 0; w <= lastWindow; w++) summaries.push(await until(`window ${w}`, () => daemon.settlementSummary(w)));
  assert.ok(summaries.some((s) => s.totalShares > 0));
});

after(async () => {
  for (const close of closers) await close();
  registryDb?.close();
  daemon?.close();
  await cluster?.close();
  await evm?.close();
  rmSync(workDir, { recursive: true, force: true });
});

const clientAddress = () => privateKeyToAccount(clientKey).address.toLowerCase();
const totalFees = () => summaries.reduce((sum, s) => sum + s.totalFees, 0n);

/** What each node is owed: Σ over its shares of tokens × the base fee of their block, to the unit. */
function expectedPayouts(without: ReadonlySet<number> = new Set(), node?: string): Map<string, bigint> {
  const owed = new Map<string, bigint>();
  for (const s of summaries)
    for (const f of s.flows)
      if (!(without.has(s.window) && f.nodeId === node)) owed.set(f.nodeId, (owed.get(f.nodeId) ?? 0n) + f.fees);
  return owed;
}

/** A settler with a database of its own (its records, audit tickets and bans), reading the cluster's members. */
function settlerFor(backend: SettlementBackend, name: string, overrides: Partial<SettlerOptions> = {}) {
  const db = new Database(join(workDir, `${name}.db`));
  closers.push(async () => void db.close());
  const audits = new AuditStore(db);
  const settler = new Settler({
    backend,
    db,
    members: storeDirectory(registryDb, 3_000),
    authorities: () => authorities,
    ...overrides,
  });
  return { settler, audits, db };
}

/** Posts every window with shares. */
async function settleAll(settler: Settler) {
  const posted = [];
  for (const s of summaries) {
    const outcome = await settler.settle(s.window, [daemon]);
    if (s.totalShares === 0) {
      assert.equal(outcome.status, 'empty');
      continue;
    }
    assert.equal(outcome.status, 'posted', 'reason' in outcome ? outcome.reason : '');
    if (outcome.status !== 'posted') continue;
    // The registry recounted the window from the blocks and reached the daemon's own summary.
    assert.equal(outcome.summary.hash, s.hash);
    assert.deepEqual(
      outcome.debits,
      [{ client: clientAddress(), amount: s.totalFees }],
      'the one client pays its own fees',
    );
    posted.push(outcome);
  }
  return posted;
}

/** `tick` moves the back end's clock on: the ledger's injected one, or anvil's (which mines only on transactions). */
async function finalizeAndClaim(backend: SettlementBackend, settler: Settler, tick: () => Promise<void>) {
  assert.deepEqual(
    [...new Set(summaries.flatMap((s) => s.flows.map((f) => f.client)))],
    [clientAddress()],
    'the receipts name the client that paid',
  );
  await backend.deposit(clientAddress(), totalFees());
  const posted = await settleAll(settler);
  assert.equal((await settler.finalize(posted[0]!.hash)).status, 'waiting', 'not before the challenge window ends');
  for (const p of posted) {
    await until(
      'the challenge window to pass',
      async () => {
        await tick();
        return (await settler.finalize(p.hash)).status === 'finalized' ? true : undefined;
      },
      30_000,
    );
  }
  const owed = expectedPayouts();
  assert.equal(owed.size, 3);
  for (const node of cluster.nodes) {
    assert.equal(await backend.claimable(node.nodeId), owed.get(node.nodeId), `claimable of ${node.nodeId}`);
    assert.equal(await backend.claim(node.nodeId), owed.get(node.nodeId));
    assert.equal(await backend.claimable(node.nodeId), 0n);
  }
  assert.equal(await backend.balanceOf(clientAddress()), 0n, 'the client paid exactly its fees');
  // A second pass posts nothing again.
  for (const s of summaries.filter((x) => x.totalShares > 0))
    assert.equal((await settler.settle(s.window, [daemon])).status, 'already');
}

test('on the SQLite ledger: each node is paid its tokens × price from its client, claimed after the challenge window', async () => {
  let clock = Date.now();
  const ledger = new LedgerBackend({ path: join(workDir, 'ledger.db'), challengeWindowS: 60, now: () => clock });
  closers.push(() => ledger.close());
  const { settler } = settlerFor(ledger, 'settler-ledger');
  await finalizeAndClaim(ledger, settler, async () => void (clock += 61_000));
});

test('a client that deposited nothing makes no share worth anything: nothing is posted', async () => {
  const ledger = new LedgerBackend({ path: join(workDir, 'ledger-unfunded.db'), challengeWindowS: 60 });
  closers.push(() => ledger.close());
  const { settler } = settlerFor(ledger, 'settler-unfunded');
  for (const s of summaries.filter((x) => x.totalShares > 0)) {
    const outcome = await settler.settle(s.window, [daemon]);
    assert.equal(outcome.status, 'empty');
    assert.match((outcome as { reason: string }).reason, /pays nobody/);
  }
  for (const node of cluster.nodes) assert.equal(await ledger.claimable(node.nodeId), 0n);
});

test('a fraud proof confirmed while a settlement is posted challenges it; the window is paid again without the cheat', async () => {
  let clock = Date.now();
  const ledger = new LedgerBackend({ path: join(workDir, 'ledger-fraud.db'), challengeWindowS: 60, now: () => clock });
  closers.push(() => ledger.close());
  const events: string[] = [];
  const { settler, audits } = settlerFor(ledger, 'settler-fraud', { onEvent: (e) => void events.push(e) });
  await ledger.deposit(clientAddress(), totalFees());
  const posted = await settleAll(settler);
  // The cheat shares a window with others, so settling that window again still pays someone.
  const first = posted.find((p) => p.payouts.length >= 2) ?? posted[0]!;
  const cheat = first.payouts[0]!.node;
  audits.ban(cheat, 'ab'.repeat(32), Date.now());
  assert.deepEqual(
    await settler.challengeFraud(),
    posted.filter((p) => p.payouts.some((x) => x.node === cheat)).map((p) => p.summary.window),
  );
  assert.equal((await ledger.settlementState(first.hash)).status, 'challenged');
  assert.equal((await settler.finalize(first.hash)).status, 'challenged');
  // Settled again: a new hash, the cheat withheld, its client not debited for it (nothing to post
  // when the cheat was the window's only node).
  const again = await settler.settle(first.summary.window, [daemon]);
  for (const record of settler.store.windows(['challenged'])) await settler.settle(record.window, [daemon]);
  if (first.payouts.length >= 2) {
    assert.equal(again.status, 'posted', 'reason' in again ? again.reason : '');
    assert.notEqual((again as { hash: string }).hash, first.hash);
    assert.ok(again.status === 'posted' && !again.payouts.some((p) => p.node === cheat));
  } else assert.equal(again.status, 'empty');
  clock += 61_000;
  for (const record of settler.store.windows(['posted']))
    assert.equal((await settler.finalize(record.hash)).status, 'finalized');
  const challengedWindows = new Set(
    settler.store
      .windows(['finalized', 'empty'])
      .filter((r) => r.withheld.includes(cheat))
      .map((r) => r.window),
  );
  const owed = expectedPayouts(challengedWindows, cheat);
  for (const node of cluster.nodes)
    assert.equal(await ledger.claimable(node.nodeId), owed.get(node.nodeId) ?? 0n, `claimable of ${node.nodeId}`);
  // What the cheat would have been paid stays with the client.
  assert.equal(await ledger.balanceOf(clientAddress()), totalFees() - [...owed.values()].reduce((a, b) => a + b, 0n));
  assert.ok(events.includes('posted'));
});

test("the registry's settlement loop posts every window in order and finalizes them", async () => {
  let clock = Date.now();
  const ledger = new LedgerBackend({ path: join(workDir, 'ledger-loop.db'), challengeWindowS: 60, now: () => clock });
  closers.push(() => ledger.close());
  await ledger.deposit(clientAddress(), totalFees());
  const events: string[] = [];
  const db = new Database(join(workDir, 'settler-loop.db'));
  closers.push(async () => void db.close());
  new AuditStore(db);
  const loop = startSettlementLoop({
    backend: ledger,
    db,
    members: storeDirectory(registryDb, 3_000),
    authorities: () => authorities,
    intervalMs: 50,
    onEvent: (event) => void events.push(event),
  });
  closers.push(() => loop.close());
  const windows = summaries.filter((s) => s.totalShares > 0).map((s) => s.window);
  const records = () => windows.map((w) => loop.settler.store.window(w)?.status);
  await until('every window posted', async () => (records().every((s) => s === 'posted') ? true : undefined));
  clock += 61_000;
  await until('every window finalized', async () => (records().every((s) => s === 'finalized') ? true : undefined));
  for (const node of cluster.nodes)
    assert.equal(await ledger.claimable(node.nodeId), expectedPayouts().get(node.nodeId));
  // what the registry's tessera_registry_settlements_total counts: each window once posted, once finalized
  assert.deepEqual(events, [...windows.map(() => 'posted'), ...windows.map(() => 'finalized')]);
});

test('a settlement is not finalized while no verifier is live', async () => {
  let clock = Date.now();
  const ledger = new LedgerBackend({
    path: join(workDir, 'ledger-unwatched.db'),
    challengeWindowS: 60,
    now: () => clock,
  });
  closers.push(() => ledger.close());
  await ledger.deposit(clientAddress(), totalFees());
  const directory = storeDirectory(registryDb, 3_000);
  const { settler } = settlerFor(ledger, 'settler-unwatched', {
    members: { members: (ids, role) => (role === 'verifier' ? [] : directory.members(ids, role)) },
  });
  const posted = await settleAll(settler);
  clock += 61_000;
  const outcome = await settler.finalize(posted[0]!.hash);
  assert.deepEqual(outcome, {
    status: 'waiting',
    reason: 'no live verifier: settlements are finalized only while daemons and verifiers watch',
  });
  assert.equal((await ledger.settlementState(posted[0]!.hash)).status, 'posted');
});

test('on the escrow contract (anvil): the client deposits, the same payouts out; a fraud proof challenges there too', async () => {
  const [owner, challenger] = evm.keys as Hex[];
  const address = await deployEscrow({
    rpcUrl: evm.rpcUrl,
    ownerKey: owner!,
    challenger: privateKeyToAccount(challenger!).address,
    challengeWindowS: 60,
    pollingIntervalMs: 50,
  });
  const backend = await openEvmBackend({
    rpcUrl: evm.rpcUrl,
    address,
    ownerKey: owner!,
    challengerKey: challenger!,
    partyKeys: [clientKey, ...nodeKeys],
    pollingIntervalMs: 50,
  });
  closers.push(() => backend.close());
  const { settler } = settlerFor(backend, 'settler-evm');
  await finalizeAndClaim(backend, settler, () => evm.increaseTime(61));

  // The owner (the registry) challenges on chain once a fraud proof touches a posted settlement.
  const second = await openEvmBackend({
    rpcUrl: evm.rpcUrl,
    address: await deployEscrow({
      rpcUrl: evm.rpcUrl,
      ownerKey: owner!,
      challenger: privateKeyToAccount(challenger!).address,
      challengeWindowS: 60,
      pollingIntervalMs: 50,
    }),
    ownerKey: owner!,
    challengerKey: challenger!,
    partyKeys: [clientKey, ...nodeKeys],
    pollingIntervalMs: 50,
  });
  closers.push(() => second.close());
  const fraudulent = settlerFor(second, 'settler-evm-fraud');
  await second.deposit(clientAddress(), totalFees());
  const posted = await settleAll(fraudulent.settler);
  fraudulent.audits.ban(posted[0]!.payouts[0]!.node, 'cd'.repeat(32), Date.now());
  assert.ok((await fraudulent.settler.challengeFraud()).includes(posted[0]!.summary.window));
  assert.equal((await second.settlementState(posted[0]!.hash)).status, 'challenged');
  let reserved = 0n;
  for (const p of posted)
    if ((await second.settlementState(p.hash)).status === 'posted')
      reserved += p.debits.reduce((sum, d) => sum + d.amount, 0n);
  assert.equal(
    await second.balanceOf(clientAddress()),
    totalFees() - reserved,
    "each challenge released the client's reserve",
  );
});
