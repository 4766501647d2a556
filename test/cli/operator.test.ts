// `tessera grant|stake|unstake|withdraw|claim|account` against a real `tessera registry` process on
// its SQLite ledger, as operators run them: stake enters the ledger only by the cluster operator's
// grant or from earnings, stake gates registration and discovery, unstaking drops the node from
// discovery at once, refusals exit 1 with the registry's message and change nothing, bad usage exits 2.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import { bytesToHex } from '@noble/hashes/utils.js';
import Database from 'better-sqlite3';
import { RoleProcess } from '../../src/cli/role-process.ts';
import { writeNewKeyFile, type KeyPair } from '../../src/crypto/keys.ts';
import { LedgerBackend } from '../../src/escrow/ledger-backend.ts';
import { tessera } from '../../src/proto/services.ts';
import { signGrant } from '../../src/registry/grant.ts';
import { reasonOf } from '../../src/rpc/status.ts';
import { RegistryClient, startHeartbeats } from '../../src/registry/registry-client.ts';
import type { SignedPayload } from '../../src/registry/signed-payload.ts';
import { nodeBody, removeDir, tempDir, writeShardsDir } from '../support/registry-fixtures.ts';
import { runTessera } from '../support/tessera-cli.ts';

const MINIMUM = 100;
const DAY_MS = 24 * 3600 * 1000;
/** Not the 7-day default: the cluster config sets it. */
const COOLDOWN_DAYS = 3;
const dir = tempDir('operator-cli');
const dbPath = join(dir, 'registry.db');
/** No key in the default place, so only --key finds one. */
const env = { ...process.env, XDG_CONFIG_HOME: join(dir, 'config') };
let registry: RoleProcess;
let endpoint: string;
let client: RegistryClient;
/** The node's operator: its key is the node's. */
let operator: KeyPair;
const operatorKey = join(dir, 'operator.key');
/** The cluster's operator, named in its config's operatorKeys: the only key whose grants credit the ledger. */
let clusterOperator: KeyPair;
const clusterOperatorKey = join(dir, 'cluster-operator.key');
const stops: (() => Promise<void>)[] = [];

before(async () => {
  writeShardsDir(join(dir, 'tiny'), 'tiny', 3);
  clusterOperator = writeNewKeyFile(clusterOperatorKey);
  writeFileSync(
    join(dir, 'cluster.json'),
    JSON.stringify({
      clusterId: 'stake-cli',
      models: [{ manifest: 'tiny' }],
      stake: { minimum: { node: MINIMUM }, unstakeCooldownS: COOLDOWN_DAYS * 86_400 },
      heartbeat: { intervalMs: 200, evictAfterMissed: 25 },
      operatorKeys: [clusterOperator.address],
    }),
  );
  registry = new RoleProcess({
    name: 'registry',
    startEvent: 'registry_started',
    args: ['registry', '--port', '0', '--cluster-config', join(dir, 'cluster.json'), '--db', dbPath],
  });
  await registry.ready;
  endpoint = registry.started.endpoint as string;
  client = new RegistryClient(endpoint);
  operator = writeNewKeyFile(operatorKey);
});

/** The operator's node serves shard 0 and keeps itself live. */
async function joinOperatorNode(): Promise<void> {
  const body = nodeBody(operator, { shardIndex: 0, shardEnd: 1, shareKey: bytesToHex(operator.publicKey) });
  const { heartbeatIntervalMs } = await client.register(operator, body);
  stops.push(startHeartbeats(client, operator, () => body, { intervalMs: heartbeatIntervalMs }));
}

after(async () => {
  for (const stop of stops) await stop();
  client?.close();
  await registry?.stop();
  removeDir(dir);
});

const cli = (...args: string[]) => runTessera([...args, '--registry', endpoint], env);
const discovered = async () => (await client.discover('tiny')).nodes.map((n) => n.nodeId);

/** The rows a grant signed by `signer` writes (the heartbeats of the operator's node keep writing theirs). */
function stakesAndNonces(signer: string) {
  const db = new Database(dbPath, { readonly: true });
  try {
    return {
      nonces: db.prepare('SELECT * FROM nonces WHERE node_id = ?').all(signer),
      stakes: db.prepare('SELECT * FROM ledger_stakes ORDER BY node').all(),
      balances: db.prepare('SELECT * FROM ledger_balances ORDER BY client').all(),
      grants: db.prepare('SELECT * FROM ledger_grants ORDER BY evidence_hash').all(),
    };
  } finally {
    db.close();
  }
}

/** Calls the registry's Grant with exactly these bytes, as a replaying eavesdropper would. */
function sendGrant(signed: SignedPayload): Promise<unknown> {
  const raw = new tessera.v1.Registry(endpoint, credentials.createInsecure());
  return new Promise((resolve, reject) => {
    raw.grant(
      { payload: signed.payload, signature: signed.signature },
      (error: ServiceError | null, reply?: unknown) => {
        raw.close();
        if (error) reject(error);
        else resolve(reply);
      },
    );
  });
}

test("granted stake up to the minimum admits the node; unstake takes it out of discovery at once; withdraw waits for the cluster's cooldown", async () => {
  const empty = await cli('account', '--key', operatorKey, '--json');
  assert.equal(empty.code, 0, empty.stderr);
  assert.deepEqual(JSON.parse(empty.stdout), {
    address: operator.address,
    stake: '0',
    unstakingUntil: null,
    claimable: '0',
    deposited: '0',
    balance: '0',
    escrow: { backend: 'ledger' },
  });
  assert.deepEqual(await discovered(), [], 'an unstaked node gets no sessions');

  // Self-declared stake: the ledger holds nothing the node earned.
  const declared = await cli('stake', '--amount', String(10n ** 30n), '--key', operatorKey);
  assert.equal(declared.code, 1);
  assert.match(
    declared.stderr,
    new RegExp(
      `^tessera: registry ${endpoint}: FAILED_PRECONDITION: InsufficientFunds: node ${operator.address} holds 0 in claimable earnings, less than the ${10n ** 30n} it asked to stake`,
    ),
  );
  // Nor can the node grant itself stake: its key is not the cluster's operator key.
  const selfGranted = await cli('grant', '--key', operatorKey, '--to', operator.address, '--stake', '1000');
  assert.equal(selfGranted.code, 1);
  assert.equal(
    selfGranted.stderr,
    `tessera: registry ${endpoint}: PERMISSION_DENIED: grant signed by ${operator.address}, which is not one of this cluster's operator keys (operatorKeys: ${clusterOperator.address})\n`,
  );
  assert.equal(JSON.parse((await cli('account', operator.address, '--json')).stdout).stake, '0');

  const some = await cli(
    'grant',
    '--key',
    clusterOperatorKey,
    '--to',
    operator.address,
    '--stake',
    String(MINIMUM - 40),
  );
  assert.equal(some.code, 0, some.stderr);
  assert.equal(
    some.stdout,
    `granted stake ${MINIMUM - 40} to ${operator.address}; its stake is now ${MINIMUM - 40}, its balance as a client 0\n`,
  );
  await assert.rejects(joinOperatorNode(), (error: ServiceError) => {
    assert.equal(reasonOf(error), 'STAKE_BELOW_MINIMUM');
    return true;
  });
  assert.deepEqual(await discovered(), [], 'below the minimum');

  const rest = await cli('grant', '--key', clusterOperatorKey, '--to', operator.address, '--stake', '40');
  assert.equal(rest.code, 0, rest.stderr);
  assert.match(rest.stdout, new RegExp(`its stake is now ${MINIMUM}, its balance as a client 0\\n$`));
  await joinOperatorNode();
  assert.deepEqual(await discovered(), [operator.address]);

  const shown = await cli('account', operator.address);
  assert.equal(shown.code, 0, shown.stderr);
  assert.equal(
    shown.stdout,
    [
      `address    ${operator.address}`,
      `stake      ${MINIMUM}`,
      'claimable  0',
      'deposited  0 (spendable 0)',
      `escrow     the ledger of registry ${endpoint}`,
      '',
    ].join('\n'),
  );

  const asked = Date.now();
  const unstake = await cli('unstake', '--key', operatorKey);
  assert.equal(unstake.code, 0, unstake.stderr);
  const until = /may withdraw its stake from (\S+) \(tessera withdraw\)$/m.exec(unstake.stdout)?.[1];
  assert.ok(until !== undefined, unstake.stdout);
  const untilMs = Date.parse(until);
  assert.ok(
    untilMs >= asked + COOLDOWN_DAYS * DAY_MS && untilMs <= Date.now() + COOLDOWN_DAYS * DAY_MS,
    `the cluster's cooldown is ${COOLDOWN_DAYS} days, got ${until}`,
  );
  assert.deepEqual(await discovered(), [], 'an unstaking node gets no new sessions');
  assert.equal(JSON.parse((await cli('account', operator.address, '--json')).stdout).unstakingUntil, until);

  const early = await cli('withdraw', '--key', operatorKey);
  assert.equal(early.code, 1);
  assert.equal(
    early.stderr,
    `tessera: registry ${endpoint}: FAILED_PRECONDITION: CooldownActive: node ${operator.address} may withdraw from ${until}\n`,
  );
  assert.equal(early.stdout, '');
  const again = await cli('unstake', '--key', operatorKey);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /FAILED_PRECONDITION: AlreadyUnstaking: /);
  assert.deepEqual(JSON.parse((await cli('account', '--key', operatorKey, '--json')).stdout), {
    address: operator.address,
    stake: String(MINIMUM),
    unstakingUntil: until,
    claimable: '0',
    deposited: '0',
    balance: '0',
    escrow: { backend: 'ledger' },
  });
});

test('a replayed grant is refused and changes nothing', async () => {
  const other = writeNewKeyFile(join(dir, 'other.key'));
  const signed = signGrant(clusterOperator, {
    operator: clusterOperator.address,
    to: other.address,
    stake: '25',
    deposit: '7',
    timestampMs: Date.now(),
    nonce: randomBytes(16).toString('hex'),
  });
  assert.deepEqual(await sendGrant(signed), { stake: '25', balance: '7' });
  const before = stakesAndNonces(clusterOperator.address);
  await assert.rejects(sendGrant(signed), (error: ServiceError) => {
    assert.equal(error.code, status.ALREADY_EXISTS);
    assert.equal(reasonOf(error), 'NONCE_REPLAYED');
    return true;
  });
  assert.deepEqual(stakesAndNonces(clusterOperator.address), before);
  const account = JSON.parse((await cli('account', other.address, '--json')).stdout);
  assert.equal(account.stake, '25');
  assert.equal(account.deposited, '7');
});

test('claim pays what a finalized settlement credited, then refuses with NothingToClaim; stake bonds earnings', async () => {
  const payer = `0x${'c1'.repeat(20)}`;
  const deposit = await cli('grant', '--key', clusterOperatorKey, '--to', payer, '--deposit', '1000');
  assert.equal(deposit.code, 0, deposit.stderr);
  // The settlement is posted and finalized on the registry's own file, as its settlement loop would.
  const ledger = new LedgerBackend({ path: dbPath, challengeWindowS: 0 });
  const hash = `0x${'5e'.repeat(32)}` as const;
  const earner = writeNewKeyFile(join(dir, 'earner.key'));
  try {
    await ledger.postSettlement({
      hash,
      payouts: [
        { node: operator.address, amount: 300n },
        { node: earner.address, amount: 80n },
      ],
      debits: [{ client: payer, amount: 380n }],
    });
    await ledger.finalize(hash);
  } finally {
    await ledger.close();
  }
  const bonded = await cli('stake', '--amount', '50', '--key', join(dir, 'earner.key'));
  assert.equal(bonded.code, 0, bonded.stderr);
  assert.equal(bonded.stdout, `staked 50 on the registry's ledger; the stake of ${earner.address} is now 50\n`);
  const more = await cli('stake', '--amount', '31', '--key', join(dir, 'earner.key'));
  assert.equal(more.code, 1);
  assert.match(more.stderr, /FAILED_PRECONDITION: InsufficientFunds: node 0x[0-9a-f]{40} holds 30 in claimable/);
  assert.deepEqual(
    [JSON.parse((await cli('account', earner.address, '--json')).stdout)].map((a) => [a.stake, a.claimable]),
    [['50', '30']],
  );
  assert.equal(JSON.parse((await cli('account', operator.address, '--json')).stdout).claimable, '300');
  const claim = await cli('claim', '--key', operatorKey);
  assert.equal(claim.code, 0, claim.stderr);
  assert.equal(claim.stdout, `claimed 300 for ${operator.address}\n`);
  const nothing = await cli('claim', '--key', operatorKey);
  assert.equal(nothing.code, 1);
  assert.equal(
    nothing.stderr,
    `tessera: registry ${endpoint}: FAILED_PRECONDITION: NothingToClaim: ${operator.address} has nothing to claim\n`,
  );
  assert.equal(JSON.parse((await cli('account', operator.address, '--json')).stdout).claimable, '0');
});

test('bad usage exits 2 with what to fix; an unreachable registry exits 1', async () => {
  const cases: [string[], RegExp][] = [
    [
      ['stake', '--amount', '-3', '--key', operatorKey],
      /^tessera: --amount must be a positive whole number in the smallest unit \(e\.g\. wei\), got "-3"\n$/,
    ],
    [['stake', '--amount', '1.5', '--key', operatorKey], /got "1\.5"/],
    [['stake', '--amount', '0', '--key', operatorKey], /got "0"/],
    [['stake', '--key', operatorKey], /required option '--amount <n>' not specified/],
    [
      ['stake', '--amount', '5'],
      new RegExp(
        `^tessera: no --key given and no key at ${join(dir, 'config', 'tessera', 'node.key')}: pass --key FILE, the node's key\\n$`,
      ),
    ],
    [['account', '0x1234'], /^tessera: ADDRESS must be 0x and 40 hex digits \(a node id\), got "0x1234"\n$/],
    [['account', operator.address, '--key', operatorKey], /^tessera: give an ADDRESS or --key, not both\n$/],
    [
      ['grant', '--key', clusterOperatorKey, '--to', '0x1234', '--stake', '5'],
      /^tessera: --to must be 0x and 40 hex digits \(a node or client id\), got "0x1234"\n$/,
    ],
    [
      ['grant', '--key', clusterOperatorKey, '--to', operator.address],
      /^tessera: give --stake N, --deposit N or both: a grant credits something\n$/,
    ],
    [
      ['grant', '--key', clusterOperatorKey, '--to', operator.address, '--deposit', '0'],
      /--deposit must be a positive whole number/,
    ],
    [['grant', '--to', operator.address, '--stake', '5'], /required option '--key <file>' not specified/],
  ];
  const runs = await Promise.all(cases.map(([args]) => cli(...args)));
  runs.forEach((run, i) => {
    assert.equal(run.code, 2, `${cases[i]![0].join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, cases[i]![1]);
    assert.equal(run.stdout, '');
  });

  const nowhere = await runTessera(['claim', '--key', operatorKey, '--registry', '127.0.0.1:1'], env);
  assert.equal(nowhere.code, 1);
  assert.match(
    nowhere.stderr,
    /^tessera: no registry answers at 127\.0\.0\.1:1 \(.*\); start a network with `tessera up`, or pass --registry HOST:PORT\n$/,
  );

  const ledgerOnly = await runTessera(
    [
      'registry',
      '--port',
      '0',
      '--cluster-config',
      join(dir, 'cluster.json'),
      '--db',
      join(dir, 'other.db'),
      '--escrow-key',
      operatorKey,
    ],
    env,
  );
  assert.equal(ledgerOnly.code, 2);
  assert.match(
    ledgerOnly.stderr,
    /tessera: --escrow-key is for a cluster config with an "escrow" section; .*cluster\.json has none, so stakes live in the registry's ledger\n$/,
  );
});
