// The escrow contract on a real local EVM node (anvil) that this file starts and stops: the shared
// back-end suite, then what only a chain can show (ether actually moving, roles, events).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createPublicClient, http } from 'viem';
import type { Address, Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { deployEscrow, escrowArtifact, openEvmBackend } from '../../src/escrow/evm-backend.ts';
import type { EvmBackend } from '../../src/escrow/evm-backend.ts';
import { startLocalEvm } from '../../src/escrow/local-evm.ts';
import type { LocalEvm } from '../../src/escrow/local-evm.ts';
import { settlementBackendSuite } from '../support/settlement-backend-suite.ts';
import type { Hash32 } from '../../src/registry/settlement-backend.ts';

let evm: LocalEvm;
before(async () => {
  evm = await startLocalEvm({ accounts: 8 });
});
after(async () => {
  await evm.close();
});

interface Parties {
  readonly owner: Hex;
  readonly challenger: Hex;
  readonly clients: readonly Hex[];
  readonly nodes: readonly Hex[];
}

function parties(): Parties {
  const [owner, challenger, c1, c2, n1, n2, n3] = evm.keys as [Hex, Hex, Hex, Hex, Hex, Hex, Hex];
  return { owner, challenger, clients: [c1, c2], nodes: [n1, n2, n3] };
}

const address = (key: Hex): Address => privateKeyToAccount(key).address;

async function freshEscrow(): Promise<{ backend: EvmBackend; p: Parties }> {
  const p = parties();
  const contract = await deployEscrow({
    rpcUrl: evm.rpcUrl,
    ownerKey: p.owner,
    challenger: address(p.challenger),
    pollingIntervalMs: 50,
  });
  const backend = await openEvmBackend({
    rpcUrl: evm.rpcUrl,
    address: contract,
    ownerKey: p.owner,
    challengerKey: p.challenger,
    partyKeys: [...p.clients, ...p.nodes],
    pollingIntervalMs: 50,
  });
  return { backend, p };
}

function hash(n: number): Hash32 {
  return `0x${n.toString(16).padStart(64, '0')}`;
}

settlementBackendSuite('TesseraEscrow on anvil', async () => {
  const { backend, p } = await freshEscrow();
  return {
    backend,
    clients: p.clients.map(address),
    nodes: p.nodes.map(address),
    bond: (node, amount) => backend.stake(node, amount),
    advance: (seconds) => evm.increaseTime(seconds),
    close: () => backend.close(),
  };
});

test('ether moves: deposits into the contract, claims out to the nodes net only of gas', async () => {
  const { backend, p } = await freshEscrow();
  const chain = createPublicClient({ transport: http(evm.rpcUrl) });
  const ETH = 10n ** 18n;
  const [n1, n2] = p.nodes.map(address) as [Address, Address];
  const client = address(p.clients[0] as Hex);

  await backend.deposit(client, 3n * ETH);
  await backend.stake(n2, ETH);
  assert.equal(await chain.getBalance({ address: backend.address }), 4n * ETH);

  await backend.postSettlement({
    hash: hash(1),
    payouts: [
      { node: n1, amount: 2n * ETH },
      { node: n2, amount: ETH },
    ],
    debits: [{ client, amount: 3n * ETH }],
  });
  await evm.increaseTime(61);
  await backend.finalize(hash(1));

  const before = await chain.getBalance({ address: n1 });
  const blockBefore = await chain.getBlockNumber();
  assert.equal(await backend.claim(n1), 2n * ETH);
  const claimBlock = await chain.getBlock({ blockNumber: blockBefore + 1n, includeTransactions: true });
  const [tx] = claimBlock.transactions;
  assert.ok(tx !== undefined && typeof tx !== 'string');
  const receipt = await chain.getTransactionReceipt({ hash: tx.hash });
  const gas = receipt.gasUsed * receipt.effectiveGasPrice;
  assert.equal(await chain.getBalance({ address: n1 }), before + 2n * ETH - gas);
  assert.equal(await chain.getBalance({ address: backend.address }), 2n * ETH);
  await backend.close();
});

test('only the owner posts, finalizes and slashes; only the challenger challenges', async () => {
  const { backend, p } = await freshEscrow();
  const node = address(p.nodes[0] as Hex);
  // A client that holds the wrong keys: a node's key as "owner", a client's as "challenger".
  const impostor = await openEvmBackend({
    rpcUrl: evm.rpcUrl,
    address: backend.address,
    ownerKey: p.nodes[0] as Hex,
    challengerKey: p.clients[0] as Hex,
    pollingIntervalMs: 50,
  });
  const client = address(p.clients[0] as Hex);
  await backend.stake(node, 100n);
  await backend.deposit(client, 11n);
  await backend.postSettlement({ hash: hash(1), payouts: [{ node, amount: 10n }], debits: [{ client, amount: 10n }] });

  await assert.rejects(
    impostor.postSettlement({ hash: hash(2), payouts: [{ node, amount: 1n }], debits: [{ client, amount: 1n }] }),
    { code: 'NotOwner' },
  );
  await assert.rejects(impostor.challenge(hash(1), 'mine now'), { code: 'NotChallenger' });
  await assert.rejects(impostor.slash(node, 10_000, hash(3)), { code: 'NotOwner' });
  await evm.increaseTime(61);
  await assert.rejects(impostor.finalize(hash(1)), { code: 'NotOwner' });

  assert.deepEqual(await backend.settlementState(hash(2)), { status: 'none' });
  assert.equal((await backend.settlementState(hash(1))).status, 'posted');
  assert.deepEqual(await backend.stakeOf(node), { amount: 100n });
  await backend.finalize(hash(1));
  assert.equal(await backend.claimable(node), 10n);
  await impostor.close();
  await backend.close();
});

test('every step of a settlement is an event on the chain', async () => {
  const { backend, p } = await freshEscrow();
  const chain = createPublicClient({ transport: http(evm.rpcUrl) });
  const [n1, n2] = p.nodes.map(address) as [Address, Address];
  const client = address(p.clients[0] as Hex);
  await backend.deposit(client, 11n);
  await backend.stake(n2, 10n);
  await backend.postSettlement({
    hash: hash(1),
    payouts: [{ node: n1, amount: 10n }],
    debits: [{ client, amount: 10n }],
  });
  await backend.postSettlement({
    hash: hash(2),
    payouts: [{ node: n1, amount: 1n }],
    debits: [{ client, amount: 1n }],
  });
  await backend.challenge(hash(2), 'receipt missing');
  await backend.requestUnstake(n2);
  await backend.slash(n2, 5000, hash(9));
  await evm.increaseTime(7 * 24 * 3600 + 1);
  await backend.finalize(hash(1));
  await backend.claim(n1);
  await backend.withdrawStake(n2);

  const logs = await chain.getContractEvents({ address: backend.address, abi: escrowArtifact.abi, fromBlock: 0n });
  assert.deepEqual(
    logs.map((l) => l.eventName),
    [
      'ChallengerChanged',
      'Deposited',
      'Staked',
      'SettlementPosted',
      'SettlementPosted',
      'SettlementChallenged',
      'UnstakeRequested',
      'Slashed',
      'SettlementFinalized',
      'Claimed',
      'StakeWithdrawn',
    ],
  );
  const challenged = logs.find((l) => l.eventName === 'SettlementChallenged');
  assert.deepEqual(challenged?.args, { hash: hash(2), challenger: address(p.challenger), reason: 'receipt missing' });
  await backend.close();
});

test('the owner may challenge a posted settlement (a fraud proof it confirmed), and its debits go back', async () => {
  const { backend, p } = await freshEscrow();
  // The registry's own client: the owner key only, no challenger key.
  const registry = await openEvmBackend({
    rpcUrl: evm.rpcUrl,
    address: backend.address,
    ownerKey: p.owner,
    pollingIntervalMs: 50,
  });
  const client = address(p.clients[0] as Hex);
  const node = address(p.nodes[0] as Hex);
  await backend.deposit(client, 10n);
  await registry.postSettlement({ hash: hash(1), payouts: [{ node, amount: 10n }], debits: [{ client, amount: 10n }] });
  assert.equal(await registry.balanceOf(client), 0n);
  await registry.challenge(hash(1), 'fraud proof 0xabc confirmed');
  assert.equal((await registry.settlementState(hash(1))).status, 'challenged');
  assert.equal(await registry.balanceOf(client), 10n);
  // A party that is neither is still refused.
  const stranger = await openEvmBackend({
    rpcUrl: evm.rpcUrl,
    address: backend.address,
    challengerKey: p.nodes[1] as Hex,
    pollingIntervalMs: 50,
  });
  await registry.postSettlement({ hash: hash(2), payouts: [{ node, amount: 10n }], debits: [{ client, amount: 10n }] });
  await assert.rejects(stranger.challenge(hash(2), 'mine'), { code: 'NotChallenger' });
  assert.equal((await registry.settlementState(hash(2))).status, 'posted');
  await stranger.close();
  await registry.close();
  await backend.close();
});
