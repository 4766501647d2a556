import { hex, sha256 } from '../../src/crypto/hash.ts';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { generateKeyPair, type KeyPair } from '../../src/crypto/keys.ts';
import { setRootOf, sharesRootOf, signHeader, type Block } from '../../src/chain/block.ts';
import { checkBlock } from '../../src/chain/block-check.ts';
import { Chain, InvalidBlockError } from '../../src/chain/chain.ts';
import { startDaemon, type DaemonHandle } from '../../src/chain/daemon.ts';
import { DaemonClient } from '../../src/chain/daemon-client.ts';
import { RegistryMembership } from '../../src/chain/membership.ts';
import { DEFAULT_CHAIN_PARAMS } from '../../src/chain/params.ts';
import { type SignedRecord } from '../../src/protocol/record.ts';
import { openShare, shareHashOf, type BlockShare } from '../../src/protocol/share.ts';
import { SignaturePool } from '../../src/chain/signature-pool.ts';
import { signBatch, signStatement, statementHashOf } from '../../src/protocol/share-batch.ts';
import { ChainStore } from '../../src/chain/store.ts';
import {
  daemonRegistry,
  joinNode,
  startChainNetwork,
  TestSession,
  type ChainNetwork,
} from '../support/daemon-fixtures.ts';
import { removeDir, tempDir, waitFor } from '../support/registry-fixtures.ts';

const params = { blockIntervalMs: 150, maxSharesPerBlock: 4 };
const nodeA = generateKeyPair();
const nodeB = generateKeyPair();
const producer = generateKeyPair();
let dir: string;
let network: ChainNetwork;
let daemon: DaemonHandle;
let rpc: DaemonClient;
let peer: { chain: Chain; membership: RegistryMembership; pool: SignaturePool };
/** The producer's first block with shares: 4 of a batch of 6 that nodeA signed. */
let produced: Block;
let payloads: Uint8Array[];
/** The session of the produced block's shares: its receipt pays nodeB for hop 0 and nodeA for hop 1. */
let session: TestSession;
const stops: (() => Promise<void>)[] = [];

before(async () => {
  dir = tempDir('daemon-block-check');
  network = await startChainNetwork(dir);
  stops.push(await joinNode(network.registry, nodeA, 1), await joinNode(network.registry, nodeB, 1));
  daemon = await startDaemon({
    port: 0,
    dbPath: join(dir, 'producer.db'),
    ...daemonRegistry(network, producer),
    params,
    verifyThreads: 0,
  });
  rpc = new DaemonClient(daemon.endpoint);
  session = new TestSession(generateKeyPair(), 'blocks', [nodeB, nodeA]);
  payloads = Array.from({ length: 6 }, () => session.share(nodeA, 1));
  const verdicts = await rpc.submitShares([signBatch(nodeA, payloads)], [session.receipt]);
  assert.ok(
    verdicts.every((v) => v.accepted),
    verdicts.find((v) => !v.accepted)?.message,
  );
  produced = await waitFor('a first block with shares', async () => {
    const { head } = await rpc.head();
    return head.header.height >= 1 && (await rpc.blocks(1, head.header.height)).blocks.find((b) => b.shares.length > 0);
  });
  peer = {
    chain: new Chain(new ChainStore(join(dir, 'peer.db')), { ...DEFAULT_CHAIN_PARAMS, ...params }),
    membership: new RegistryMembership(network.membership, { ttlMs: 0 }),
    pool: new SignaturePool(0),
  };
});

after(async () => {
  rpc?.close();
  await daemon?.close();
  peer?.chain.store.close();
  peer?.membership.close();
  await peer?.pool.close();
  for (const stop of stops) await stop();
  await network?.close();
  removeDir(dir);
});

const check = (block: Block) =>
  checkBlock(block, { ...peer, nowMs: Date.now(), authorities: new Set([network.registryKey.address]) });

/** The produced block with other shares and statements, its header made to match them and signed again by its producer. */
function reissued(
  shares: readonly BlockShare[],
  statements: readonly SignedRecord[],
  signer: KeyPair = producer,
): Block {
  const opened = shares.map((s) => openShare(s.payload));
  const header = {
    ...produced.header,
    shareCount: shares.length,
    sharesRoot: sharesRootOf(shares.map((s) => shareHashOf(s.payload))),
    statementsRoot: setRootOf(statements.map((s) => statementHashOf(s.payload))),
    tokens: opened.reduce((sum, s) => sum + s.tokensProcessed, 0),
  };
  const signedHeader = signHeader(signer, header);
  return {
    header,
    hash: sha256(signedHeader.payload),
    signedHeader,
    shares,
    receipts: produced.receipts,
    statements,
    roster: produced.roster,
  };
}

/** The produced block's shares, each pointing at `statement`. */
const under = (statement: SignedRecord) => produced.shares.map((s) => ({ payload: s.payload, statement }));

async function refused(block: Block, reason: RegExp): Promise<void> {
  await assert.rejects(
    check(block),
    (error: Error) => error instanceof InvalidBlockError && reason.test(error.message),
  );
}

test('a block may carry part of a batch: its statement lists more shares than the block holds', async () => {
  assert.equal(produced.shares.length, 4);
  assert.equal(produced.statements.length, 1);
  assert.ok(
    produced.shares.every((s) => s.statement === produced.statements[0]),
    'every share points at the one statement',
  );
  const contents = await check(produced);
  const statementHash = statementHashOf(produced.statements[0]!.payload);
  assert.deepEqual(
    contents.statements.map((s) => hex(s.hash)),
    [hex(statementHash)],
  );
  assert.deepEqual(
    contents.shares.map((s) => hex(s.statement)),
    produced.shares.map(() => hex(statementHash)),
  );
  assert.deepEqual(
    contents.shares.map((s) => hex(s.hash)),
    payloads.slice(0, 4).map((p) => hex(shareHashOf(p))),
  );
});

test('a peer refuses a block whose statements do not vouch for its shares', async () => {
  const hashes = payloads.map((p) => shareHashOf(p).toString('hex'));
  // Signed by another node's key for nodeA's shares.
  const forged = signStatement(nodeB, hashes, nodeA.address);
  await refused(reissued(under(forged), [forged]), /statement [0-9a-f]{64} is not signed by its node's share key/);
  // nodeA's own signature with its recovery byte flipped: it verifies against nodeA's key, yet recovers another signer.
  const original = produced.statements[0]!;
  const flipped = {
    payload: original.payload,
    signature: Uint8Array.from(original.signature, (b, i) => (i === 64 ? b ^ 1 : b)),
  };
  await refused(reissued(under(flipped), [flipped]), /is not signed by its node's share key/);
  // A statement of another node, listing nodeA's shares.
  const ofB = signStatement(nodeB, hashes);
  await refused(
    reissued(under(ofB), [ofB]),
    new RegExp(`is of node ${nodeA.address}, but its statement is for node ${nodeB.address}`),
  );
  // nodeA's statement of the first two shares only: the others are not listed.
  const partial = signStatement(nodeA, hashes.slice(0, 2));
  await refused(
    reissued(under(partial), [partial]),
    new RegExp(`share ${hashes[2]} is not listed in its batch's statement`),
  );
  // A statement no share of the block points at.
  const spare = signStatement(nodeA, hashes.slice(4));
  await refused(reissued(produced.shares, [original, spare]), /lists none of its shares/);
  // Statements other than the header commits to.
  await refused(
    { ...produced, shares: under(partial), statements: [partial] },
    /do not match the header's statements root/,
  );
  assert.equal(peer.chain.store.statement(statementHashOf(original.payload)), undefined, 'checking stores nothing');
});

test("a peer takes a share at its node's position in the receipt's route, whatever shards the node holds, and refuses one at another node's", async () => {
  // nodeB holds shard 1, yet the receipt names it for hop 0 (a hop runs a span, not its node's shard).
  const ownHop = session.share(nodeB, 0, 2);
  const ownBatch = signBatch(nodeB, [ownHop]);
  const contents = await check(reissued([{ payload: ownHop, statement: ownBatch.statement }], [ownBatch.statement]));
  assert.deepEqual(
    contents.shares.map((s) => [hex(s.hash), s.nodeId, s.shardIndex, s.tokens]),
    [[hex(shareHashOf(ownHop)), nodeB.address, 0, 2]],
  );
  // nodeB's share for hop 1, with its own valid key: the receipt pays nodeA there.
  const othersHop = session.share(nodeB, 1, 2);
  const othersBatch = signBatch(nodeB, [othersHop]);
  await refused(
    reissued([{ payload: othersHop, statement: othersBatch.statement }], [othersBatch.statement]),
    new RegExp(
      `share ${hex(shareHashOf(othersHop))} is of ${nodeB.address}, but its receipt pays ${nodeA.address} for hop 1 of its route`,
    ),
  );
  assert.equal(peer.chain.store.shareState(shareHashOf(othersHop)), undefined, 'checking stores nothing');
});
