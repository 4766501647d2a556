// Settlement end to end on a local network (registry, daemon, verifier and 3 nodes as processes):
// a generation's shares land in blocks, the registry's Settler checks each window against its
// blocks and audits, posts payouts in the proportion of weighted shares, and finalizes after the
// challenge window, on the SQLite ledger and on the escrow contract on a local EVM node (anvil).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
import type { SettlementBackend } from '../../src/registry/settlement-backend.ts';
import { storeDirectory } from '../../src/registry/member-directory.ts';
import { Settler, startSettlementLoop } from '../../src/registry/settlement.ts';
import { testModel } from '../support/models.ts';

const WINDOW_BLOCKS = 10;
const workDir = mkdtempSync(join(tmpdir(), 'tessera-trust-settlement-'));
let evm: LocalEvm;
let cluster: LocalCluster;
let daemon: DaemonClient;
let registryDb: Database.Database;
let clientKey: Hex;
let nodeKeys: Hex[];
/** The complete windows that hold the generation's shares. */
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

/** What each node should be paid: per window, its weight's share of the window's fees, rounded down. */
function expectedPayouts(): Map<string, bigint> {
  const owed = new Map<string, bigint>();
  for (const s of summaries) {
    const pool = s.clients.reduce((sum, c) => sum + BigInt(c.fees), 0n);
    for (const n of s.nodes)
      owed.set(n.nodeId, (owed.get(n.nodeId) ?? 0n) + (pool * BigInt(n.weight)) / BigInt(s.totalWeight));
  }
  return owed;
}

/** Deposits the windows' fees for the client, then posts every window with shares. */
async function settleAll(backend: SettlementBackend) {
  const fees = summaries.flatMap((s) => s.clients).reduce((sum, c) => sum + BigInt(c.fees), 0n);
  assert.deepEqual(
    [...new Set(summaries.flatMap((s) => s.clients.map((c) => c.client)))],
    [clientAddress()],
    'the receipts name the client that paid',
  );
  await backend.deposit(clientAddress(), fees);
  const settler = new Settler({ backend, daemon, db: registryDb, members: storeDirectory(registryDb, 3_000) });
  const posted = [];
  for (const s of summaries) {
    const outcome = await settler.settle(s.window);
    if (s.totalShares === 0) {
      assert.equal(outcome.status, 'empty');
      continue;
    }
    assert.equal(outcome.status, 'posted', 'reason' in outcome ? outcome.reason : '');
    if (outcome.status === 'posted') posted.push(outcome);
  }
  return { settler, posted };
}

/** `tick` moves the back end's clock on: the ledger's injected one, or anvil's (which mines only on transactions). */
async function finalizeAndClaim(backend: SettlementBackend, tick: () => Promise<void>) {
  const { settler, posted } = await settleAll(backend);
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
  // A second pass posts nothing again.
  for (const s of summaries.filter((x) => x.totalShares > 0))
    assert.equal((await settler.settle(s.window)).status, 'already');
}

test('on the SQLite ledger: payouts in the proportion of weighted shares, claimed after the challenge window', async () => {
  let clock = Date.now();
  const now = () => clock;
  const ledger = new LedgerBackend({ path: join(workDir, 'ledger.db'), challengeWindowS: 60, now });
  closers.push(() => ledger.close());
  await finalizeAndClaim(ledger, async () => void (clock += 61_000));
});

test('a challenged settlement is never finalized and pays nothing', async () => {
  let clock = Date.now();
  const now = () => clock;
  const ledger = new LedgerBackend({ path: join(workDir, 'ledger-challenged.db'), challengeWindowS: 60, now });
  closers.push(() => ledger.close());
  const { settler, posted } = await settleAll(ledger);
  const first = posted[0]!;
  await ledger.challenge(first.hash, 'the test disputes it');
  clock += 61_000;
  assert.equal((await settler.finalize(first.hash)).status, 'challenged');
  assert.equal((await ledger.settlementState(first.hash)).status, 'challenged');
  for (const p of first.payouts) assert.equal(await ledger.claimable(p.node), 0n);
});

test("the registry's settlement loop posts every window in order and finalizes them", async () => {
  let clock = Date.now();
  const ledger = new LedgerBackend({ path: join(workDir, 'ledger-loop.db'), challengeWindowS: 60, now: () => clock });
  closers.push(() => ledger.close());
  await ledger.deposit(
    clientAddress(),
    summaries.flatMap((s) => s.clients).reduce((sum, c) => sum + BigInt(c.fees), 0n),
  );
  const events: string[] = [];
  const loop = startSettlementLoop({
    backend: ledger,
    db: registryDb,
    members: storeDirectory(registryDb, 3_000),
    intervalMs: 50,
    onEvent: (event) => events.push(event),
  });
  closers.push(() => loop.close());
  const hashes = summaries.filter((s) => s.totalShares > 0).map((s) => `0x${s.hash}` as const);
  const states = async () => Promise.all(hashes.map(async (h) => (await ledger.settlementState(h)).status));
  await until('every window posted', async () => ((await states()).every((s) => s === 'posted') ? true : undefined));
  clock += 61_000;
  await until('every window finalized', async () =>
    (await states()).every((s) => s === 'finalized') ? true : undefined,
  );
  for (const node of cluster.nodes)
    assert.equal(await ledger.claimable(node.nodeId), expectedPayouts().get(node.nodeId));
  // what the registry's tessera_registry_settlements_total counts: each window once posted, once finalized
  assert.deepEqual(events, [...hashes.map(() => 'posted'), ...hashes.map(() => 'finalized')]);
});

test('a settlement is not finalized while no verifier is live', async () => {
  let clock = Date.now();
  const ledger = new LedgerBackend({
    path: join(workDir, 'ledger-unwatched.db'),
    challengeWindowS: 60,
    now: () => clock,
  });
  closers.push(() => ledger.close());
  const { posted } = await settleAll(ledger);
  clock += 61_000;
  const directory = storeDirectory(registryDb, 3_000);
  const unwatched = new Settler({
    backend: ledger,
    daemon,
    db: registryDb,
    members: { members: (ids, role) => (role === 'verifier' ? [] : directory.members(ids, role)) },
  });
  const outcome = await unwatched.finalize(posted[0]!.hash);
  assert.deepEqual(outcome, {
    status: 'waiting',
    reason: 'no live verifier: settlements are finalized only while daemons and verifiers watch',
  });
  assert.equal((await ledger.settlementState(posted[0]!.hash)).status, 'posted');
});

test('on the escrow contract (anvil): deposits in, the same payouts out', async () => {
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
  await finalizeAndClaim(backend, () => evm.increaseTime(61));
  assert.equal(
    await backend.available(),
    summaries.reduce((sum, s) => sum + s.clients.reduce((a, c) => a + BigInt(c.fees), 0n), 0n) -
      [...expectedPayouts().values()].reduce((a, b) => a + b, 0n),
    'the rounding dust stays in escrow',
  );
});
