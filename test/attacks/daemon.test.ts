// Attacks on a daemon: a stranger, with its own valid key, tries to make the daemon dial an endpoint
// of its choosing; a registered node or daemon floods the calls that write with its own valid
// signatures. Each is refused with its status and reason, the daemon's chain and its outbound
// connections are unchanged, and an honest caller is served meanwhile.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { status, type ServiceError } from '@grpc/grpc-js';
import { hex, sha256 } from '../../src/crypto/hash.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { signHeader, type Block } from '../../src/chain/block.ts';
import { DaemonClient } from '../../src/chain/daemon-client.ts';
import { startDaemon, type DaemonHandle, type DaemonOptions } from '../../src/chain/daemon.ts';
import { registryEnrollment } from '../../src/cli/daemon-enrollment.ts';
import { shareHashOf } from '../../src/protocol/share.ts';
import { signBatch } from '../../src/protocol/share-batch.ts';
import { reasonOf } from '../../src/rpc/status.ts';
import { ConnectionCounter } from '../support/connection-counter.ts';
import {
  daemonRegistry,
  joinNode,
  startChainNetwork,
  TestSession,
  type ChainNetwork,
} from '../support/daemon-fixtures.ts';
import { removeDir, tempDir, waitFor } from '../support/registry-fixtures.ts';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function daemonUnderAttack(extra: Partial<DaemonOptions> = {}): Promise<{
  daemon: DaemonHandle;
  network: ChainNetwork;
  listener: ConnectionCounter;
  rpc: DaemonClient;
  dir: string;
}> {
  const dir = tempDir('attack-daemon');
  cleanups.push(() => removeDir(dir));
  const network = await startChainNetwork(dir);
  cleanups.push(() => network.close());
  const daemon = await startDaemon({
    port: 0,
    dbPath: join(dir, 'chain.db'),
    ...daemonRegistry(network, generateKeyPair()),
    params: { blockIntervalMs: 150 },
    syncIntervalMs: 150,
    verifyThreads: 1,
    ...extra,
  });
  cleanups.push(() => daemon.close());
  const listener = new ConnectionCounter();
  await listener.listen();
  cleanups.push(() => listener.close());
  const rpc = new DaemonClient(daemon.endpoint);
  cleanups.push(() => rpc.close());
  return { daemon, network, listener, rpc, dir };
}

const refusedWith = async (call: Promise<unknown>, code: status, reason: string): Promise<ServiceError> => {
  const error = (await call.then(
    () => assert.fail(`the daemon took the call instead of refusing it ${reason}`),
    (e: ServiceError) => e,
  )) as ServiceError;
  assert.equal(status[error.code], status[code], error.details);
  assert.equal(reasonOf(error), reason);
  return error;
};

/** The daemon builds two more blocks: slots pass, so a dial it had started would have reached the listener. */
const twoMoreBlocks = (daemon: DaemonHandle) => {
  const from = daemon.chain.head().height;
  return waitFor('the daemon to produce two more blocks', () => daemon.chain.head().height >= from + 2);
};

test('an anonymous ExchangeBlocks claiming a better chain cannot make the daemon dial its endpoint', async () => {
  const { daemon, listener, rpc } = await daemonUnderAttack();
  const genesis = daemon.chain.genesis.hash;
  await refusedWith(
    rpc.exchangeBlocks({
      genesisHash: genesis,
      locator: [genesis],
      headHeight: 1_000_000,
      headHash: randomBytes(32),
      maxBlocks: 64,
      fromEndpoint: listener.endpoint,
    }),
    status.PERMISSION_DENIED,
    'UNKNOWN_PEER',
  );
  // Meanwhile an honest reader (no endpoint of its own) is answered.
  const honest = await rpc.exchangeBlocks({
    genesisHash: genesis,
    locator: [genesis],
    headHeight: 0,
    headHash: genesis,
    maxBlocks: 64,
    fromEndpoint: '',
  });
  assert.ok(honest.headHeight <= daemon.chain.head().height);
  assert.deepEqual(
    honest.blocks.map((b) => b.header.height),
    Array.from({ length: Math.min(honest.headHeight, 64) }, (_, i) => i + 1),
  );
  await twoMoreBlocks(daemon);
  assert.equal(listener.connections, 0, 'the daemon connected to the endpoint a stranger named');
});

test('a PushBlock signed by an unregistered key cannot make the daemon dial its endpoint, nor change its chain', async () => {
  const { daemon, listener, rpc } = await daemonUnderAttack();
  await waitFor('a first block', () => daemon.chain.head().height >= 1);
  const attacker = generateKeyPair();
  const own = daemon.chain.loadBlock(daemon.chain.head(), false);
  // A block the attacker signed, whose parent no daemon holds: the old code fetched that parent from `fromEndpoint`.
  const header = {
    ...own.header,
    height: own.header.height + 5,
    parentHash: hex(randomBytes(32)),
    producer: attacker.address,
  };
  const signedHeader = signHeader(attacker, header);
  const forged: Block = { ...own, header, signedHeader, hash: Buffer.from(randomBytes(32)) };
  const before = { head: hex(daemon.chain.head().hash), height: daemon.chain.head().height };
  await refusedWith(rpc.pushBlock(forged, listener.endpoint), status.PERMISSION_DENIED, 'UNKNOWN_PEER');
  // The daemon goes on producing its own blocks (one every 150 ms): what it held stays canonical.
  assert.equal(hex(daemon.chain.store.canonicalHash(before.height)!), before.head);
  // Meanwhile an honest caller reads the head, at or past the one before.
  const read = await rpc.head();
  assert.ok(read.head.header.height >= before.height);
  assert.equal(hex(daemon.chain.store.canonicalHash(read.head.header.height)!), hex(read.head.hash));
  await twoMoreBlocks(daemon);
  assert.equal(listener.connections, 0, 'the daemon connected to the endpoint a stranger named');
  assert.equal(daemon.chain.store.block(forged.hash), undefined);
});

test("a registered node flooding SubmitShares with valid batches is cut off at its key's burst; its excess shares are not stored, an honest node's are", async () => {
  // The per-peer bucket is opened wide: attacker and honest node share 127.0.0.1, and only the per-key bucket is under test.
  const { daemon, network, rpc } = await daemonUnderAttack({
    rateLimits: { shares: { perSecond: 10_000, burst: 10_000 }, 'shares-key': { perSecond: 0.001, burst: 5 } },
  });
  const attacker = generateKeyPair();
  const honest = generateKeyPair();
  for (const [key, shard] of [
    [attacker, 0],
    [honest, 1],
  ] as const)
    cleanups.push(await joinNode(network.registry, key, shard));
  const session = new TestSession(generateKeyPair(), 'flood', [attacker, honest]);

  const outcomes: string[] = [];
  const sent: Uint8Array[] = [];
  for (let i = 0; i < 20; i++) {
    const share = session.share(attacker, 0);
    sent.push(share);
    outcomes.push(
      await rpc.submitShares([signBatch(attacker, [share])], [session.receipt]).then(
        (verdicts) => (verdicts.every((v) => v.accepted) ? 'accepted' : verdicts[0]!.rejection!),
        (e: ServiceError) => `${status[e.code]} ${reasonOf(e)}`,
      ),
    );
    // Meanwhile, halfway through the flood, the honest node's batch is taken.
    if (i === 10) {
      const own = [session.share(honest, 1), session.share(honest, 1)];
      const verdicts = await rpc.submitShares([signBatch(honest, own)], [session.receipt]);
      assert.deepEqual(
        verdicts.map((v) => v.accepted),
        [true, true],
        verdicts.map((v) => v.message).join('; '),
      );
      for (const s of own) assert.notEqual(daemon.chain.store.shareState(shareHashOf(s)), undefined);
    }
  }
  assert.deepEqual(outcomes, [...Array(5).fill('accepted'), ...Array(15).fill('RESOURCE_EXHAUSTED RATE_LIMITED')]);
  sent.forEach((share, i) =>
    assert.equal(
      daemon.chain.store.shareState(shareHashOf(share)) !== undefined,
      i < 5,
      `share ${i} of the flood ${i < 5 ? 'is missing' : 'was stored past the burst'}`,
    ),
  );
  // A replay of the attacker's own accepted batch is not charged: it comes back a duplicate, not RATE_LIMITED.
  const replayed = await rpc.submitShares([signBatch(attacker, [sent[0]!])], [session.receipt]);
  assert.equal(replayed[0]!.rejection, 'SHARE_DUPLICATE');
});

test("a registered daemon flooding PushBlock with blocks it signed is cut off at its key's burst; none is stored, an honest daemon's pushes are taken", async () => {
  const limits = { blocks: { perSecond: 10_000, burst: 10_000 }, 'block-key': { perSecond: 20, burst: 40 } };
  // No sync rounds: a block of the honest daemon reaches this one only by its PushBlock.
  // Short epochs: the honest daemon, registered after the first roster was signed, leads slots from the next one.
  const params = { blockIntervalMs: 150, epochSlots: 8 };
  const { daemon, network, rpc, listener, dir } = await daemonUnderAttack({
    rateLimits: limits,
    syncIntervalMs: 600_000,
    params,
  });
  const attacker = generateKeyPair();
  const enrollment = registryEnrollment(network.registry, attacker, () => {});
  await enrollment.join(listener.endpoint);
  cleanups.push(() => enrollment.leave());
  const pushFailures: Record<string, unknown>[] = [];
  const honestKey = generateKeyPair();
  const honest = await startDaemon({
    port: 0,
    dbPath: join(dir, 'honest-chain.db'),
    ...daemonRegistry(network, honestKey),
    params,
    syncIntervalMs: 600_000,
    verifyThreads: 1,
    log: (event, fields) => {
      if (event === 'push_failed' && fields?.peer === daemon.endpoint) pushFailures.push(fields);
    },
  });
  cleanups.push(() => honest.close());
  await waitFor('a first block', () => daemon.chain.head().height >= 1);

  const own = daemon.chain.loadBlock(daemon.chain.head(), false);
  const before = { head: hex(daemon.chain.head().hash), held: daemon.chain.store.headHeight() };
  const forged: Block[] = [];
  const outcomes: string[] = [];
  const started = Date.now();
  for (let i = 0; i < 200; i++) {
    // Validly signed by the attacker's registered key, on a parent nobody holds: each is a new block to check.
    const header = { ...own.header, parentHash: hex(randomBytes(32)), producer: attacker.address };
    const signedHeader = signHeader(attacker, header);
    const block: Block = { ...own, header, signedHeader, hash: sha256(signedHeader.payload) };
    forged.push(block);
    outcomes.push(
      await rpc.pushBlock(block, '').then(
        (reply) => (reply.accepted ? 'accepted' : 'refused in the reply'),
        (e: ServiceError) => `${status[e.code]} ${reasonOf(e)}`,
      ),
    );
  }
  const elapsedS = (Date.now() - started) / 1000;
  assert.deepEqual(
    new Set(outcomes),
    new Set(['refused in the reply', 'RESOURCE_EXHAUSTED RATE_LIMITED']),
    'a forged block was taken, or refused otherwise',
  );
  const limited = outcomes.filter((o) => o === 'RESOURCE_EXHAUSTED RATE_LIMITED').length;
  assert.ok(limited >= 200 - 40 - Math.ceil(20 * elapsedS), `${limited} of 200 refused RATE_LIMITED in ${elapsedS} s`);
  for (const block of forged) assert.equal(daemon.chain.store.block(block.hash), undefined);
  assert.ok(daemon.chain.store.headHeight() >= before.held);

  // Meanwhile the honest daemon's pushes are taken: blocks it produced after the flood reach this daemon.
  const since = honest.chain.head().height;
  const producedSince = (): Buffer[] => {
    const hashes: Buffer[] = [];
    for (let h = since + 1; h <= honest.chain.head().height; h++) {
      const row = honest.chain.canonicalBlock(h);
      if (row !== undefined && honest.chain.loadBlock(row, true).header.producer === honestKey.address)
        hashes.push(Buffer.from(row.hash));
    }
    return hashes;
  };
  await waitFor(
    'a block the honest daemon produced after the flood to reach the daemon',
    () => producedSince().some((hash) => daemon.chain.store.block(hash) !== undefined),
    30_000,
  );
  assert.deepEqual(pushFailures, []);
});
