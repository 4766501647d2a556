// Attacks on the share chain's consensus, each by a stranger or a staked daemon with its own valid
// keys: producing without stake, a forged long chain from genesis dated 1970, a reorganization past
// finality, and two blocks for one slot. Each is refused with its reason, the honest daemon's chain
// is unchanged, and honest shares keep landing in blocks meanwhile.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { status, type ServiceError } from '@grpc/grpc-js';
import { hex } from '../../src/crypto/hash.ts';
import { generateKeyPair, type KeyPair } from '../../src/crypto/keys.ts';
import { setRootOf, sharesRootOf, signHeader, type Block, type BlockHeader } from '../../src/chain/block.ts';
import { sha256 } from '../../src/crypto/hash.ts';
import { DaemonClient } from '../../src/chain/daemon-client.ts';
import { startDaemon, type DaemonHandle } from '../../src/chain/daemon.ts';
import { nextBaseFee } from '../../src/chain/fee.ts';
import { RegistryMembership } from '../../src/chain/membership.ts';
import { DEFAULT_CHAIN_PARAMS, epochOf, slotOf, type ChainParams } from '../../src/chain/params.ts';
import { leaderOf, openRoster, rosterHashOf, signRoster, type OpenedRoster } from '../../src/chain/roster.ts';
import { ChainStore, ShareState, type BlockRow } from '../../src/chain/store.ts';
import { Chain } from '../../src/chain/chain.ts';
import { registryEnrollment } from '../../src/cli/daemon-enrollment.ts';
import { LedgerBackend } from '../../src/escrow/ledger-backend.ts';
import type { SignedRecord } from '../../src/protocol/record.ts';
import { signBatch } from '../../src/protocol/share-batch.ts';
import { shareHashOf } from '../../src/protocol/share.ts';
import { reasonOf } from '../../src/rpc/status.ts';
import { equivocationEvidence } from '../../src/registry/equivocation.ts';
import {
  daemonRegistry,
  joinNode,
  Relay,
  startChainNetwork,
  TestSession,
  type ChainNetwork,
} from '../support/daemon-fixtures.ts';
import { removeDir, tempDir, waitFor } from '../support/registry-fixtures.ts';

const params: ChainParams = {
  ...DEFAULT_CHAIN_PARAMS,
  blockIntervalMs: 200,
  maxSharesPerBlock: 16,
  epochSlots: 4,
  finalityDepth: 3,
};
const STAKE = 1_000n;

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

interface Cluster {
  readonly dir: string;
  readonly network: ChainNetwork;
  readonly ledger: LedgerBackend;
  readonly node: KeyPair;
  /** Stake granted to `key` on the registry's ledger, as the cluster operator's grant does. */
  grant(key: KeyPair, stake: bigint): Promise<void>;
  membership: RegistryMembership;
}

/** A registry whose ledger holds the stakes (daemon minimum 100), and a compute node holding shards [1, 3). */
async function cluster(name: string): Promise<Cluster> {
  const dir = tempDir(`attack-chain-${name}`);
  cleanups.push(() => removeDir(dir));
  const ledger = new LedgerBackend({ path: join(dir, 'ledger.db') });
  cleanups.push(() => ledger.close());
  const network = await startChainNetwork(dir, 300, {
    settlement: { settlement: ledger, stakes: ledger },
    daemonMinimum: 100n,
  });
  cleanups.push(() => network.close());
  const node = generateKeyPair();
  cleanups.push(await joinNode(network.registry, node, { start: 1, end: 3 }));
  const membership = new RegistryMembership(network.membership, { ttlMs: 0 });
  cleanups.push(() => membership.close());
  return {
    dir,
    network,
    ledger,
    node,
    membership,
    grant: (key, stake) => ledger.grant(key.address, { stake }, `0x${randomBytes(32).toString('hex')}`),
  };
}

async function startHonest(
  c: Cluster,
  name: string,
  key: KeyPair,
  extra: { advertise?: string; events?: Record<string, unknown>[] } = {},
): Promise<DaemonHandle> {
  const events = extra.events;
  const daemon = await startDaemon({
    port: 0,
    dbPath: join(c.dir, `${name}.db`),
    ...daemonRegistry(c.network, key),
    params,
    syncIntervalMs: 200,
    verifyThreads: 1,
    ...(extra.advertise === undefined ? {} : { advertise: extra.advertise }),
    ...(events === undefined ? {} : { log: (event: string, fields?: object) => events.push({ event, ...fields }) }),
  });
  cleanups.push(() => daemon.close());
  return daemon;
}

/** Honest work still pays: a batch of the node's shares is accepted and lands in the daemon's canonical chain. */
async function honestSharesLand(c: Cluster, daemon: DaemonHandle, id: string): Promise<void> {
  const rpc = new DaemonClient(`127.0.0.1:${daemon.port}`);
  try {
    // A route over spans: another node runs shard 0, the cluster's node shards [1, 3) as hop 1.
    const session = new TestSession(generateKeyPair(), id, [generateKeyPair(), c.node]);
    const payloads = Array.from({ length: 5 }, () => session.share(c.node, 1));
    const verdicts = await rpc.submitShares([signBatch(c.node, payloads)], [session.receipt]);
    assert.ok(
      verdicts.every((v) => v.accepted),
      verdicts.find((v) => !v.accepted)?.message,
    );
    await waitFor(`the honest shares of ${id} in a canonical block`, () =>
      payloads.every((p) => daemon.chain.store.shareState(shareHashOf(p)) === ShareState.Chain),
    );
  } finally {
    rpc.close();
  }
}

/** An empty block on `parent`, signed by `producer` under `roster`, its fee by the rule. */
function forgeBlock(
  parent: BlockRow,
  producer: KeyPair,
  slot: number,
  roster: SignedRecord,
  timestampMs = slot * params.blockIntervalMs + 1,
): Block {
  const header: BlockHeader = {
    version: 2,
    height: parent.height + 1,
    parentHash: hex(parent.hash),
    producer: producer.address,
    slot,
    timestampMs,
    shareCount: 0,
    sharesRoot: sharesRootOf([]),
    receiptsRoot: setRootOf([]),
    statementsRoot: setRootOf([]),
    tokens: 0,
    baseFeePerToken: parent.height === 0 ? parent.baseFee : nextBaseFee(params, parent.baseFee, parent.shareCount),
    rosterHash: hex(rosterHashOf(roster.payload)),
  };
  const signedHeader = signHeader(producer, header);
  return { header, hash: sha256(signedHeader.payload), signedHeader, shares: [], receipts: [], statements: [], roster };
}

/** The daemon's canonical hashes from height 1 to its head. */
const canonical = (daemon: DaemonHandle) =>
  Array.from({ length: daemon.chain.head().height }, (_, i) => hex(daemon.chain.canonicalBlock(i + 1)!.hash));

const currentSlot = () => slotOf(Date.now(), params);

test('a daemon key with no stake cannot produce: its block is refused as not on the roster, or under a roster it signed itself', async () => {
  const c = await cluster('no-stake');
  const honestKey = generateKeyPair();
  await c.grant(honestKey, STAKE);
  const honest = await startHonest(c, 'honest', honestKey);
  await waitFor('a first block', () => honest.chain.head().height >= 1);
  const rpc = new DaemonClient(honest.endpoint);
  cleanups.push(() => rpc.close());

  // A stranger's key, registered as a daemon or not, has no stake: the registry's roster leaves it out.
  const stranger = generateKeyPair();
  const slot = currentSlot();
  const { roster } = await c.membership.roster(epochOf(slot, params), params);
  assert.ok(!openRoster(roster).roster.daemons.some((d) => d.address === stranger.address));
  const before = canonical(honest);
  const head = honest.chain.head();
  const notOnRoster = await rpc.pushBlock(forgeBlock(head, stranger, slot, roster), '');
  assert.equal(notOnRoster.accepted, false);
  assert.equal(notOnRoster.reason, 'INVALID_BLOCK');
  assert.match(notOnRoster.message, new RegExp(`its producer ${stranger.address} is not on the roster of epoch`));

  // Its own roster naming itself, signed with its own key: not a registry authority.
  const own = signRoster(stranger, {
    epoch: epochOf(slot, params),
    daemons: [{ address: stranger.address, stake: '1' }],
  });
  const selfSigned = await rpc.pushBlock(forgeBlock(head, stranger, slot, own), '');
  assert.equal(selfSigned.reason, 'INVALID_BLOCK');
  assert.match(
    selfSigned.message,
    new RegExp(
      `its roster is signed by ${stranger.address}, not by a registry authority \\(${c.network.registryKey.address}\\)`,
    ),
  );
  // Neither block is held; the honest chain only grew on its own blocks.
  assert.deepEqual(canonical(honest).slice(0, before.length), before);
  for (const h of canonical(honest))
    assert.notEqual(honest.chain.store.block(Buffer.from(h, 'hex'))!.producer, stranger.address);
  await honestSharesLand(c, honest, 'no-stake');
});

test('a forged long chain from genesis dated 1970 is refused block by block; the head and its shares stay', async () => {
  const c = await cluster('forged');
  const honestKey = generateKeyPair();
  await c.grant(honestKey, STAKE);
  const events: Record<string, unknown>[] = [];
  const honest = await startHonest(c, 'honest', honestKey, { events });
  await honestSharesLand(c, honest, 'before');
  const rpc = new DaemonClient(honest.endpoint);
  cleanups.push(() => rpc.close());
  // A staked, registered daemon key: on the registry's rosters, yet no registry signs a roster for 1970.
  const attacker = generateKeyPair();
  await c.grant(attacker, STAKE);
  const enrollment = registryEnrollment(c.network.registry, attacker, () => {});
  cleanups.push(() => enrollment.leave());
  await enrollment.join('127.0.0.1:1');
  await assert.rejects(c.membership.roster(0, params), (error: ServiceError) => {
    assert.equal(error.code, status.FAILED_PRECONDITION);
    assert.equal(reasonOf(error), 'EPOCH_NOT_OPEN');
    return true;
  });

  const before = canonical(honest);
  const chainedShares = honest.chain.store.pendingCount();
  const genesis = honest.chain.canonicalBlock(0)!;
  // 400 blocks, one per slot from slot 1 (1970), under a roster of epoch 0 the attacker signed: longer than the honest chain.
  const forgedRoster = signRoster(attacker, { epoch: 0, daemons: [{ address: attacker.address, stake: '1' }] });
  let parent: BlockRow = genesis;
  const forged: Block[] = [];
  for (let slot = 1; slot <= 400; slot++) {
    const block = forgeBlock(parent, attacker, slot, forgedRoster);
    forged.push(block);
    parent = {
      ...parent,
      hash: block.hash,
      height: block.header.height,
      slot,
      baseFee: block.header.baseFeePerToken,
      shareCount: 0,
    };
  }
  assert.ok(forged.length > honest.chain.head().height);
  const first = await rpc.pushBlock(forged[0]!, '');
  assert.equal(first.reason, 'INVALID_BLOCK');
  assert.match(first.message, /its roster is signed by .*, not by a registry authority/);
  // The rest have no parent here; none is stored.
  const second = await rpc.pushBlock(forged[1]!, '');
  assert.equal(second.reason, 'UNKNOWN_PARENT');
  // Dated 1970 under a real roster of today: that roster is of another epoch.
  const { roster: today } = await c.membership.roster(epochOf(currentSlot(), params), params);
  const realRoster = await rpc.pushBlock(forgeBlock(genesis, attacker, 1, today), '');
  assert.equal(realRoster.reason, 'INVALID_BLOCK');
  assert.match(
    realRoster.message,
    new RegExp(`its roster is of epoch ${openRoster(today).roster.epoch}; slot 1 is in epoch 0`),
  );

  // Served: a staked daemon of the registry holds a forged chain of its own from genesis (its store
  // takes what it is given) and answers the honest daemon's pulls with it.
  const server = generateKeyPair();
  await c.grant(server, STAKE);
  const serverDb = join(c.dir, 'forger.db');
  const forger = new Chain(new ChainStore(serverDb), params);
  let tip: BlockRow = forger.canonicalBlock(0)!;
  for (let slot = 1; slot <= 200; slot++) {
    const block = forgeBlock(
      tip,
      server,
      slot,
      signRoster(server, { epoch: 0, daemons: [{ address: server.address, stake: '1' }] }),
    );
    forger.storeBlock(block, [], [], []);
    assert.equal(forger.adopt(block.hash).switched, true);
    tip = forger.head();
  }
  forger.store.close();
  const served = await startHonest(c, 'forger', server);
  assert.ok(served.chain.head().height > honest.chain.head().height, 'the forged chain is the longer one');
  const refusedPull = await waitFor(
    'the honest daemon to refuse the served chain',
    () => events.find((e) => e.event === 'block_refused' && e.producer === server.address),
    20_000,
  );
  assert.equal(refusedPull.height, 1);
  assert.match(String(refusedPull.reason), /its roster is signed by .*, not by a registry authority/);
  const stopped = await waitFor('the pull to stop with a logged refusal', () =>
    events.find((e) => e.event === 'sync_refused'),
  );
  assert.match(String(stopped.reason), /is invalid: its roster is signed by/);

  for (const block of forged.slice(0, 2)) assert.equal(honest.chain.store.block(block.hash), undefined);
  assert.equal(honest.chain.store.block(served.chain.canonicalBlock(1)!.hash), undefined);
  assert.deepEqual(canonical(honest).slice(0, before.length), before, 'no honest block was orphaned');
  assert.ok(honest.chain.store.pendingCount() <= chainedShares, 'no chained share went back to pending');
  await honestSharesLand(c, honest, 'after');
});

test('a staked daemon that builds a longer private fork from below the finality depth cannot reorganize the honest chain', async () => {
  const c = await cluster('reorg');
  const honestKey = generateKeyPair();
  const attackerKey = generateKeyPair();
  // The attacker holds three times the honest stake: it leads most slots, so its fork grows faster.
  await c.grant(honestKey, STAKE);
  await c.grant(attackerKey, 3n * STAKE);
  const relays = [new Relay(() => honest?.port), new Relay(() => attacker?.port)];
  const endpoints = await Promise.all(relays.map((r) => r.listen()));
  for (const relay of relays) cleanups.push(() => relay.close());
  const events: Record<string, unknown>[] = [];
  let honest: DaemonHandle | undefined;
  let attacker: DaemonHandle | undefined;
  honest = await startHonest(c, 'honest', honestKey, { advertise: endpoints[0]!, events });
  attacker = await startHonest(c, 'attacker', attackerKey, { advertise: endpoints[1]! });
  const h = honest;
  const a = attacker;
  const producers = () => new Set(canonical(h).map((x) => h.chain.store.block(Buffer.from(x, 'hex'))!.producer));
  await waitFor(
    'both daemons leading blocks of one chain',
    () => producers().has(attackerKey.address) && producers().has(honestKey.address),
    20_000,
  );

  for (const relay of relays) relay.cut();
  const cutAt = Math.max(h.chain.head().height, a.chain.head().height);
  // The honest chain buries the fork point under more than finalityDepth blocks; the attacker's private fork outgrows it.
  await waitFor(
    'the honest chain final past the cut, and the private fork longer',
    () => h.chain.head().height > cutAt + params.finalityDepth + 1 && a.chain.head().height > h.chain.head().height + 2,
    30_000,
  );
  const honestBefore = canonical(h);
  for (const relay of relays) relay.heal();
  const refusal = await waitFor(
    'the honest daemon to refuse the fork',
    () => events.find((e) => e.event === 'reorg_refused'),
    20_000,
  );
  assert.match(
    String(refusal.reason),
    /^reorg past finality: the chain of [0-9a-f]{64} forks at height \d+, \d+ blocks below the head; blocks 3 deep are final$/,
  );
  assert.deepEqual(canonical(h).slice(0, honestBefore.length), honestBefore, 'the honest chain is unchanged');
  // The pull stops with a logged refusal, and a peer's refused chain is not fetched again while its head is the same.
  const stopped = await waitFor('the pull to stop with a logged refusal', () =>
    events.find((e) => e.event === 'sync_refused'),
  );
  assert.match(String(stopped.reason), /^reorg past finality/);
  const heads = events.filter((e) => e.event === 'sync_refused').map((e) => `${String(e.peer)} ${String(e.peerHead)}`);
  assert.equal(new Set(heads).size, heads.length, 'each refused chain is pulled once');
  // Pushed directly, the attacker's tip is refused with its reason too (its chain was dropped, so its parent is unknown, or the reorg is refused).
  const rpc = new DaemonClient(`127.0.0.1:${h.port}`);
  cleanups.push(() => rpc.close());
  const tip = a.chain.loadBlock(a.chain.head());
  const pushed = await rpc.pushBlock(tip, '');
  assert.equal(pushed.accepted, false);
  assert.ok(['UNKNOWN_PARENT', 'REORG_PAST_FINALITY'].includes(pushed.reason), pushed.message);
  await honestSharesLand(c, h, 'after-reorg');
  assert.deepEqual(canonical(h).slice(0, honestBefore.length), honestBefore);
});

test('a staked leader that signs two blocks for its slot is slashed by the fraud fraction and evicted; a replayed report is refused', async () => {
  const c = await cluster('equivocation');
  const honestKey = generateKeyPair();
  await c.grant(honestKey, STAKE);
  const honest = await startHonest(c, 'honest', honestKey);
  const rpc = new DaemonClient(honest.endpoint);
  cleanups.push(() => rpc.close());
  const leader = generateKeyPair();
  await c.grant(leader, STAKE);
  const enrollment = registryEnrollment(c.network.registry, leader, () => {});
  cleanups.push(() => enrollment.leave());
  await enrollment.join('127.0.0.1:1');

  // A slot the leader leads under a roster the registry signed with it on.
  const { slot, roster } = await waitFor(
    'a roster that names the leader, and a slot of it the leader leads',
    async () => {
      const epoch = epochOf(currentSlot(), params) + 1;
      let opened: OpenedRoster;
      let signed: SignedRecord;
      try {
        signed = (await c.membership.roster(epoch, params)).roster;
        opened = openRoster(signed);
      } catch {
        return undefined;
      }
      if (!opened.roster.daemons.some((d) => d.address === leader.address)) return undefined;
      for (let s = epoch * params.epochSlots; s < (epoch + 1) * params.epochSlots; s++)
        if (leaderOf(s, opened) === leader.address) return { slot: s, roster: signed };
      return undefined;
    },
    20_000,
  );
  // In its slot, on the honest head: two blocks, both valid alone.
  await waitFor("the leader's slot", () => currentSlot() >= slot);
  // On the last honest block before the slot (the head, unless the honest daemon led a later slot meanwhile).
  let parent = honest.chain.head();
  while (parent.slot >= slot) parent = honest.chain.store.block(parent.parent)!;
  const one = forgeBlock(parent, leader, slot, roster, slot * params.blockIntervalMs + 1);
  const two = forgeBlock(parent, leader, slot, roster, slot * params.blockIntervalMs + 2);
  const taken = await Promise.all([rpc.pushBlock(one, ''), rpc.pushBlock(two, '')]);
  assert.ok(
    taken.every((t) => t.accepted),
    taken.map((t) => t.message).join('; '),
  );
  const evidence = equivocationEvidence(one.hash, two.hash);

  await waitFor('the leader slashed', async () => (await c.ledger.stakeOf(leader.address)).amount === STAKE / 2n);
  const [member] = (await c.membership.lookup([leader.address])).values();
  assert.equal(member?.status, 'evicted');
  // A replayed report, either way round, takes nothing more.
  for (const [x, y] of [
    [one, two],
    [two, one],
  ] as const) {
    await assert.rejects(c.membership.reportEquivocation(x.signedHeader, y.signedHeader), (error: ServiceError) => {
      assert.equal(error.code, status.ALREADY_EXISTS);
      assert.equal(reasonOf(error), 'EVIDENCE_ALREADY_USED');
      assert.match(error.details, new RegExp(hex(evidence)));
      return true;
    });
  }
  // Two blocks of different slots, or of different producers, are no evidence.
  const later = forgeBlock(parent, leader, slot + 1, roster);
  await assert.rejects(
    c.membership.reportEquivocation(one.signedHeader, later.signedHeader),
    (error: ServiceError) => reasonOf(error) === 'DIFFERENT_SLOTS',
  );
  const stranger = forgeBlock(parent, generateKeyPair(), slot, roster);
  await assert.rejects(
    c.membership.reportEquivocation(one.signedHeader, stranger.signedHeader),
    (error: ServiceError) => reasonOf(error) === 'DIFFERENT_PRODUCERS',
  );
  assert.equal((await c.ledger.stakeOf(leader.address)).amount, STAKE / 2n, 'slashed once');
  // The evicted leader is off every later roster; honest blocks and shares keep flowing.
  await honestSharesLand(c, honest, 'after-equivocation');
  const next = await waitFor('a roster signed after the eviction, without the leader', async () => {
    const signed = await c.membership.roster(epochOf(currentSlot(), params) + 1, params).catch(() => undefined);
    return (
      signed !== undefined &&
      !openRoster(signed.roster).roster.daemons.some((d) => d.address === leader.address) &&
      signed
    );
  });
  assert.ok(openRoster(next.roster).roster.daemons.some((d) => d.address === honestKey.address));
});
