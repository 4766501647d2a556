// A cluster that settles on the TesseraEscrow contract (a real anvil this file starts): `tessera
// registry --escrow-key` drives the contract as its owner, checked at start; `tessera stake` and the
// other operator commands send their transactions from the node's own account, and the registry's
// discovery follows the stake on chain.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { createPublicClient, http, type Address, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { RoleProcess } from '../../src/cli/role-process.ts';
import { keyPairFromSecret, type KeyPair } from '../../src/crypto/keys.ts';
import { deployEscrow } from '../../src/escrow/evm-backend.ts';
import { startLocalEvm, type LocalEvm } from '../../src/escrow/local-evm.ts';
import { RegistryClient, startHeartbeats } from '../../src/registry/registry-client.ts';
import { reasonOf } from '../../src/rpc/status.ts';
import { nodeBody, removeDir, tempDir, writeShardsDir } from '../support/registry-fixtures.ts';
import { runTessera } from '../support/tessera-cli.ts';

const MINIMUM = 1_000;
const COOLDOWN_S = 7 * 24 * 3600;
const dir = tempDir('operator-evm');
const env = { ...process.env, XDG_CONFIG_HOME: join(dir, 'config') };
let evm: LocalEvm;
let contract: Address;
let owner: Address;
let registry: RoleProcess;
let endpoint: string;
let client: RegistryClient;
let node: KeyPair;
const stops: (() => Promise<void>)[] = [];

/** A key file (mode 0600) holding an anvil account's key. */
function keyFile(name: string, key: Hex): string {
  const path = join(dir, name);
  writeFileSync(path, `${key.slice(2)}\n`, { mode: 0o600 });
  return path;
}

function clusterFile(
  name: string,
  escrow: { rpcUrl: string; contract: string },
  extra: Record<string, unknown> = {},
): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    JSON.stringify({
      clusterId: 'stake-evm',
      models: [{ manifest: 'tiny' }],
      stake: { minimum: { node: MINIMUM } },
      heartbeat: { intervalMs: 200, evictAfterMissed: 25 },
      escrow,
      ...extra,
    }),
  );
  return path;
}

before(async () => {
  evm = await startLocalEvm({ accounts: 5 });
  const [ownerKey, challengerKey, nodeKey] = evm.keys as [Hex, Hex, Hex];
  owner = privateKeyToAccount(ownerKey).address;
  contract = await deployEscrow({
    rpcUrl: evm.rpcUrl,
    ownerKey,
    challenger: privateKeyToAccount(challengerKey).address,
    pollingIntervalMs: 50,
  });
  writeShardsDir(join(dir, 'tiny'), 'tiny', 3);
  keyFile('owner.key', ownerKey);
  keyFile('node.key', nodeKey);
  keyFile('stranger.key', evm.keys[3] as Hex);
  clusterFile('cluster.json', { rpcUrl: evm.rpcUrl, contract });
  registry = new RoleProcess({
    name: 'registry',
    startEvent: 'registry_started',
    args: [
      'registry',
      '--port',
      '0',
      '--cluster-config',
      join(dir, 'cluster.json'),
      '--db',
      join(dir, 'registry.db'),
      '--escrow-key',
      join(dir, 'owner.key'),
    ],
  });
  await registry.ready;
  endpoint = registry.started.endpoint as string;
  client = new RegistryClient(endpoint);
  node = keyPairFromSecret(Buffer.from(nodeKey.slice(2), 'hex'));
});

/** The node serves shard 0 and keeps itself live (the registry admits it only once it is staked). */
async function joinNode(): Promise<void> {
  const body = nodeBody(node, { shardIndex: 0, shardEnd: 1, shareKey: bytesToHex(node.publicKey) });
  const { heartbeatIntervalMs } = await client.register(node, body);
  stops.push(startHeartbeats(client, node, () => body, { intervalMs: heartbeatIntervalMs }));
}

after(async () => {
  for (const stop of stops) await stop();
  client?.close();
  await registry?.stop();
  await evm?.close();
  removeDir(dir);
});

const cli = (...args: string[]) => runTessera([...args, '--registry', endpoint], env);
const discovered = async () => (await client.discover('tiny')).nodes.map((n) => n.nodeId);

test("the registry starts on the escrow only with its owner key, a contract at the address, a node at the URL and the contract's durations", async () => {
  const nowhere = `0x${'42'.repeat(20)}`;
  const registryWith = (config: string, ...extra: string[]) =>
    runTessera(
      ['registry', '--port', '0', '--cluster-config', join(dir, config), '--db', join(dir, `${config}.db`), ...extra],
      env,
    );
  const [noKey, stranger, noContract, noNode, otherWindow] = await Promise.all([
    registryWith('cluster.json'),
    registryWith('cluster.json', '--escrow-key', join(dir, 'stranger.key')),
    registryWith(
      clusterFile('no-contract.json', { rpcUrl: evm.rpcUrl, contract: nowhere }).slice(dir.length + 1),
      '--escrow-key',
      join(dir, 'owner.key'),
    ),
    registryWith(
      clusterFile('no-node.json', { rpcUrl: 'http://127.0.0.1:1', contract }).slice(dir.length + 1),
      '--escrow-key',
      join(dir, 'owner.key'),
    ),
    registryWith(
      clusterFile('other-window.json', { rpcUrl: evm.rpcUrl, contract }, { challengeWindowS: 5 }).slice(dir.length + 1),
      '--escrow-key',
      join(dir, 'owner.key'),
    ),
  ]);
  assert.equal(noKey.code, 2, noKey.stderr);
  assert.match(
    noKey.stderr,
    new RegExp(
      `settles on the escrow contract ${contract.toLowerCase()} at ${evm.rpcUrl}: pass --escrow-key FILE, the key of the contract's owner \\(mode 0600\\)\\n$`,
    ),
  );
  assert.equal(stranger.code, 1, stranger.stderr);
  const strangerAddress = privateKeyToAccount(evm.keys[3] as Hex).address.toLowerCase();
  assert.match(
    stranger.stderr,
    new RegExp(
      `is the key of ${strangerAddress}, but the escrow ${contract.toLowerCase()} is owned by ${owner.toLowerCase()}: pass the owner's key\\n$`,
    ),
  );
  assert.equal(noContract.code, 1, noContract.stderr);
  assert.match(
    noContract.stderr,
    new RegExp(
      `escrow in .*no-contract\\.json: no contract at 0x4242424242424242424242424242424242424242 on ${evm.rpcUrl} \\(chain \\d+\\): deploy TesseraEscrow there`,
      'i',
    ),
  );
  assert.equal(noNode.code, 1, noNode.stderr);
  assert.match(noNode.stderr, /escrow in .*no-node\.json: no EVM node answers at http:\/\/127\.0\.0\.1:1: /);
  assert.equal(otherWindow.code, 1, otherWindow.stderr);
  assert.match(
    otherWindow.stderr,
    /was deployed with a challenge window of 60 s and an unstaking cooldown of 604800 s, but .*other-window\.json says 5 s and 604800 s: make challengeWindowS and stake\.unstakeCooldownS match the contract\n$/,
  );
});

test("stake from the node's own account moves ether into the contract; the registry shows it and discovers the node", async () => {
  const chain = createPublicClient({ transport: http(evm.rpcUrl) });
  const held = await chain.getBalance({ address: contract });
  assert.deepEqual(await discovered(), [], 'no stake on chain yet');
  await assert.rejects(joinNode(), (error: ServiceError) => {
    assert.equal(reasonOf(error), 'STAKE_BELOW_MINIMUM');
    assert.match(
      error.details,
      new RegExp(`^node ${node.address} has stake 0, below the node minimum ${MINIMUM} \\(bond ${MINIMUM} more: `),
    );
    return true;
  });

  const staked = await cli('stake', '--amount', String(MINIMUM), '--key', join(dir, 'node.key'));
  assert.equal(staked.code, 0, staked.stderr);
  assert.equal(
    staked.stdout,
    `staked ${MINIMUM} in the escrow contract; the stake of ${node.address} is now ${MINIMUM}\n`,
  );
  assert.equal(await chain.getBalance({ address: contract }), held + BigInt(MINIMUM));

  const account = await cli('account', '--key', join(dir, 'node.key'), '--json');
  assert.equal(account.code, 0, account.stderr);
  assert.deepEqual(JSON.parse(account.stdout), {
    address: node.address,
    stake: String(MINIMUM),
    unstakingUntil: null,
    claimable: '0',
    deposited: '0',
    balance: '0',
    escrow: { backend: 'evm', rpcUrl: evm.rpcUrl, contract: contract.toLowerCase() },
  });
  await joinNode();
  assert.deepEqual(await discovered(), [node.address]);

  // The registry holds no node's key, so it refuses to act for one and says where to go.
  await assert.rejects(client.stake(node, 1n), (error: ServiceError) => {
    assert.equal(error.code, status.FAILED_PRECONDITION);
    assert.equal(
      error.details,
      `this registry settles on the escrow contract ${contract.toLowerCase()} at ${evm.rpcUrl}: send the stake transaction from the node's own account (\`tessera stake\` does)`,
    );
    return true;
  });
  // Nor does it credit grants: on the contract value arrives only as transfers.
  await assert.rejects(client.grant(node, node.address, { stake: 10n ** 30n }), (error: ServiceError) => {
    assert.equal(error.code, status.FAILED_PRECONDITION);
    assert.equal(reasonOf(error), 'ESCROW_ONLY');
    return true;
  });
  assert.equal((await client.account(node.address)).stake, BigInt(MINIMUM));
});

test('unstake on chain drops the node from discovery; withdraw waits for the cooldown; claim of nothing is refused', async () => {
  const unstake = await cli('unstake', '--key', join(dir, 'node.key'));
  assert.equal(unstake.code, 0, unstake.stderr);
  const until = /may withdraw its stake from (\S+) \(tessera withdraw\)$/m.exec(unstake.stdout)?.[1];
  assert.ok(until !== undefined, unstake.stdout);
  assert.deepEqual(await discovered(), []);
  assert.equal(JSON.parse((await cli('account', node.address, '--json')).stdout).unstakingUntil, until);

  const early = await cli('withdraw', '--key', join(dir, 'node.key'));
  assert.equal(early.code, 1);
  assert.match(
    early.stderr,
    new RegExp(
      `^tessera: CooldownActive: escrow ${contract} refused withdrawStake: CooldownActive\\(${node.address}, \\d+\\): may withdraw from ${until.replace(/\./g, '\\.')}\\n$`,
      'i',
    ),
  );

  await evm.increaseTime(COOLDOWN_S + 1);
  const withdrawn = await cli('withdraw', '--key', join(dir, 'node.key'));
  assert.equal(withdrawn.code, 0, withdrawn.stderr);
  assert.equal(withdrawn.stdout, `withdrew ${MINIMUM} (the stake of ${node.address})\n`);
  assert.equal(JSON.parse((await cli('account', node.address, '--json')).stdout).stake, '0');

  const nothing = await cli('claim', '--key', join(dir, 'node.key'));
  assert.equal(nothing.code, 1);
  assert.match(
    nothing.stderr,
    new RegExp(
      `^tessera: NothingToClaim: escrow ${contract} refused claim: NothingToClaim\\(${node.address}\\)\\n$`,
      'i',
    ),
  );
});
