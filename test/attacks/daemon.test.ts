// Attacks on a daemon's gossip: a stranger, with its own valid key, tries to make the daemon dial an
// endpoint of its choosing. Each is refused with its status and reason, the daemon's chain and its
// outbound connections are unchanged, and an honest caller is served meanwhile.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { status, type ServiceError } from '@grpc/grpc-js';
import { hex } from '../../src/crypto/hash.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { signHeader, type Block } from '../../src/chain/block.ts';
import { DaemonClient } from '../../src/chain/daemon-client.ts';
import { startDaemon, type DaemonHandle } from '../../src/chain/daemon.ts';
import { reasonOf } from '../../src/rpc/status.ts';
import { ConnectionCounter } from '../support/connection-counter.ts';
import { daemonRegistry, startChainNetwork, type ChainNetwork } from '../support/daemon-fixtures.ts';
import { removeDir, tempDir, waitFor } from '../support/registry-fixtures.ts';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function daemonUnderAttack(): Promise<{
  daemon: DaemonHandle;
  network: ChainNetwork;
  listener: ConnectionCounter;
  rpc: DaemonClient;
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
  });
  cleanups.push(() => daemon.close());
  const listener = new ConnectionCounter();
  await listener.listen();
  cleanups.push(() => listener.close());
  const rpc = new DaemonClient(daemon.endpoint);
  cleanups.push(() => rpc.close());
  return { daemon, network, listener, rpc };
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
  const before = { head: hex(daemon.chain.head().hash), blocks: daemon.chain.store.headHeight() };
  await refusedWith(rpc.pushBlock(forged, listener.endpoint), status.PERMISSION_DENIED, 'UNKNOWN_PEER');
  assert.equal(hex(daemon.chain.head().hash), before.head);
  // Meanwhile an honest caller reads the head.
  assert.equal(hex((await rpc.head()).head.hash), before.head);
  await twoMoreBlocks(daemon);
  assert.equal(listener.connections, 0, 'the daemon connected to the endpoint a stranger named');
  assert.equal(daemon.chain.store.block(forged.hash), undefined);
});
