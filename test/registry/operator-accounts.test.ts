// An operator's bond and earnings at the registry, over real gRPC and the registry's SQLite ledger:
// signed Stake/RequestUnstake/WithdrawStake/Claim checked like admission, value entering only by the
// cluster operator's signed Grant or by earnings, GetAccount for anyone, and each refusal with its
// own status, reason and message, leaving every table as it was.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import Database from 'better-sqlite3';
import { generateKeyPair, type KeyPair } from '../../src/crypto/keys.ts';
import { LedgerBackend } from '../../src/escrow/ledger-backend.ts';
import { tessera } from '../../src/proto/services.ts';
import { signOperatorRequest, type OperatorAction, type OperatorRequest } from '../../src/registry/operator-request.ts';
import { signGrant, type OperatorGrant } from '../../src/registry/grant.ts';
import { reasonOf } from '../../src/rpc/status.ts';
import { startRegistry } from '../../src/registry/registry.ts';
import { RegistryClient } from '../../src/registry/registry-client.ts';
import type { SignedPayload } from '../../src/registry/signed-payload.ts';
import { removeDir, snapshot, tempDir, testClusterConfig, writeShardsDir } from '../support/registry-fixtures.ts';

const DAY_MS = 24 * 3600 * 1000;
/** The cluster operator: the one key every fixture's cluster config names in operatorKeys. */
const operator = generateKeyPair();
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A registry whose operator calls act on a ledger in its own file, with a clock the test moves. */
async function accountsFixture(overrides: Record<string, unknown> = {}, withLedger = true) {
  const dir = tempDir('operator-accounts');
  writeShardsDir(join(dir, 'tiny'), 'tiny', 3);
  const dbPath = join(dir, 'registry.db');
  const clock = { ms: Date.now() };
  const ledger = new LedgerBackend({ path: dbPath, challengeWindowS: 0, now: () => clock.ms });
  const registry = await startRegistry({
    port: 0,
    dbPath,
    clusterConfig: testClusterConfig(dir, {
      rateLimit: { perSecond: 1000, burst: 1000 },
      operatorKeys: [operator.address],
      ...overrides,
    }),
    ...(withLedger ? { accounts: ledger, stakes: ledger } : {}),
  });
  const client = new RegistryClient(registry.endpoint);
  cleanups.push(async () => {
    client.close();
    await registry.close();
    await ledger.close();
    removeDir(dir);
  });
  /** Every registry and ledger row, read through a second connection. */
  const state = () => {
    const db = new Database(dbPath, { readonly: true });
    try {
      const ledgerTables = [
        'ledger_stakes',
        'ledger_claimable',
        'ledger_deposits',
        'ledger_balances',
        'ledger_settlements',
        'ledger_debits',
        'ledger_grants',
        'ledger_meta',
      ];
      return {
        ...snapshot(dbPath),
        ...Object.fromEntries(ledgerTables.map((t) => [t, db.prepare(`SELECT * FROM ${t} ORDER BY 1`).all()])),
      };
    } finally {
      db.close();
    }
  };
  return { registry, client, ledger, clock, state };
}

const METHODS = {
  stake: 'stake',
  unstake: 'requestUnstake',
  withdraw: 'withdrawStake',
  claim: 'claim',
  grant: 'grant',
} as const;

function grant(key: KeyPair, to: KeyPair, overrides: Partial<OperatorGrant> = {}): OperatorGrant {
  return {
    operator: key.address,
    to: to.address,
    stake: '100',
    timestampMs: Date.now(),
    nonce: randomBytes(16).toString('hex'),
    ...overrides,
  };
}

function operatorRequest(
  key: KeyPair,
  action: OperatorAction,
  overrides: Partial<OperatorRequest> = {},
): OperatorRequest {
  return {
    action,
    nodeId: key.address,
    ...(action === 'stake' ? { amount: '100' } : {}),
    timestampMs: Date.now(),
    nonce: randomBytes(16).toString('hex'),
    ...overrides,
  };
}

/** Calls a signed operator RPC with exactly these bytes, bypassing the client's own signing. */
function send(endpoint: string, action: OperatorAction | 'grant', signed: SignedPayload): Promise<unknown> {
  const client = new tessera.v1.Registry(endpoint, credentials.createInsecure());
  const method = client[METHODS[action]].bind(client) as (
    request: SignedPayload,
    callback: (error: ServiceError | null, reply?: unknown) => void,
  ) => unknown;
  return new Promise((resolve, reject) => {
    method({ payload: signed.payload, signature: signed.signature }, (error, reply) => {
      client.close();
      if (error) reject(error);
      else resolve(reply);
    });
  });
}

const refusal = (code: status, details: RegExp, reason?: string) => (error: unknown) => {
  assert.equal(status[(error as ServiceError).code], status[code], (error as Error).message);
  assert.match((error as ServiceError).details, details);
  if (reason !== undefined) assert.equal(reasonOf(error as ServiceError), reason);
  return true;
};

/** Credits `node` with `amount` of earnings: a client's granted deposit paid out by a finalized settlement. */
async function earn(ledger: LedgerBackend, client: RegistryClient, node: KeyPair, amount: bigint): Promise<void> {
  const payer = generateKeyPair();
  await client.grant(operator, payer.address, { deposit: amount });
  const hash = `0x${randomBytes(32).toString('hex')}` as const;
  await ledger.postSettlement({
    hash,
    payouts: [{ node: node.address, amount }],
    debits: [{ client: payer.address, amount }],
  });
  await ledger.finalize(hash);
}

test('granted stake, unstake and withdraw on the ledger, each step shown by GetAccount', async () => {
  const { client, clock } = await accountsFixture();
  const key = generateKeyPair();
  const escrow = { backend: 'ledger' };
  assert.deepEqual(await client.account(key.address), {
    address: key.address,
    stake: 0n,
    claimable: 0n,
    deposited: 0n,
    balance: 0n,
    escrow,
  });

  assert.deepEqual(await client.grant(operator, key.address, { stake: 60n }), { stake: 60n, balance: 0n });
  assert.deepEqual(await client.grant(operator, key.address.toUpperCase().replace('0X', '0x'), { stake: 10n ** 30n }), {
    stake: 10n ** 30n + 60n,
    balance: 0n,
  });
  // Any spelling of the address finds the same account.
  assert.deepEqual(await client.account(key.address.toUpperCase().replace('0X', '0x')), {
    address: key.address,
    stake: 10n ** 30n + 60n,
    claimable: 0n,
    deposited: 0n,
    balance: 0n,
    escrow,
  });

  const until = await client.requestUnstake(key);
  assert.equal(until, clock.ms + 7 * DAY_MS, 'the default cooldown is 7 days');
  assert.equal((await client.account(key.address)).unstakingUntilMs, until);

  clock.ms = until;
  assert.equal(await client.withdrawStake(key), 10n ** 30n + 60n);
  assert.deepEqual(await client.account(key.address), {
    address: key.address,
    stake: 0n,
    claimable: 0n,
    deposited: 0n,
    balance: 0n,
    escrow,
  });
});

test('claim pays out what finalized settlements credited, once; Stake bonds earnings', async () => {
  const { client, ledger } = await accountsFixture();
  const key = generateKeyPair();
  const depositor = generateKeyPair();
  const hash = `0x${'11'.repeat(32)}` as const;
  assert.deepEqual(await client.grant(operator, depositor.address, { deposit: 500n }), { stake: 0n, balance: 500n });
  assert.equal((await client.account(depositor.address)).deposited, 500n);
  await ledger.postSettlement({
    hash,
    payouts: [{ node: key.address, amount: 400n }],
    debits: [{ client: depositor.address, amount: 400n }],
  });
  await ledger.finalize(hash);
  assert.equal((await client.account(key.address)).claimable, 400n);
  assert.equal(await client.stake(key, 100n), 100n);
  await assert.rejects(
    client.stake(key, 301n),
    refusal(
      status.FAILED_PRECONDITION,
      /^InsufficientFunds: node 0x[0-9a-f]{40} holds 300 in claimable/,
      'INSUFFICIENT_FUNDS',
    ),
  );
  assert.equal((await client.account(key.address)).claimable, 300n);
  assert.equal(await client.claim(key), 300n);
  assert.equal((await client.account(key.address)).claimable, 0n);
  await assert.rejects(
    client.claim(key),
    refusal(status.FAILED_PRECONDITION, new RegExp(`^NothingToClaim: ${key.address} has nothing to claim$`)),
  );
});

test('each refused operator call names its reason and leaves every table unchanged', async () => {
  const { registry, client, ledger, state } = await accountsFixture();
  const staked = generateKeyPair();
  const unstaking = generateKeyPair();
  const stranger = generateKeyPair();
  await client.grant(operator, staked.address, { stake: 100n });
  await client.grant(operator, unstaking.address, { stake: 100n });
  const until = await client.requestUnstake(unstaking);
  await earn(ledger, client, staked, 100n);
  const used = signOperatorRequest(staked, operatorRequest(staked, 'stake'));
  await send(registry.endpoint, 'stake', used);
  const before = state();
  assert.equal(before.nonces!.length, 5);

  const refusals: [string, Promise<unknown>, status, RegExp][] = [];
  const refuse = (name: string, action: OperatorAction, signed: SignedPayload, code: status, details: RegExp) =>
    refusals.push([name, send(registry.endpoint, action, signed), code, details]);
  const forged = operatorRequest(staked, 'withdraw');
  refuse(
    'signed by another key',
    'withdraw',
    {
      payload: signOperatorRequest(stranger, forged).payload,
      signature: signOperatorRequest(stranger, forged).signature,
    },
    status.UNAUTHENTICATED,
    new RegExp(`^withdraw request is signed by ${stranger.address}, not by node ${staked.address}$`),
  );
  refuse(
    'replayed nonce',
    'stake',
    used,
    status.ALREADY_EXISTS,
    new RegExp(
      `^replayed stake request: nonce ${JSON.parse(Buffer.from(used.payload).toString()).nonce} was already used; each stake request is accepted once`,
    ),
  );
  refuse(
    'stale timestamp',
    'claim',
    signOperatorRequest(staked, operatorRequest(staked, 'claim', { timestampMs: Date.now() - 95_000 })),
    status.INVALID_ARGUMENT,
    /^stale timestamp: claim request dated 95 s behind registry time, limit 30 s \(the signer's clock is behind/,
  );
  refuse(
    "another action's request",
    'unstake',
    signOperatorRequest(staked, operatorRequest(staked, 'claim')),
    status.INVALID_ARGUMENT,
    /^malformed unstake request: action "claim" where this call takes "unstake"$/,
  );
  refuse(
    'zero stake',
    'stake',
    signOperatorRequest(staked, operatorRequest(staked, 'stake', { amount: '0' })),
    status.INVALID_ARGUMENT,
    /^malformed stake request: amount must be a positive integer string, got "0"$/,
  );
  refuse(
    'unstake with no stake',
    'unstake',
    signOperatorRequest(stranger, operatorRequest(stranger, 'unstake')),
    status.FAILED_PRECONDITION,
    new RegExp(`^NoStake: node ${stranger.address} has no stake$`),
  );
  refuse(
    'unstake twice',
    'unstake',
    signOperatorRequest(unstaking, operatorRequest(unstaking, 'unstake')),
    status.FAILED_PRECONDITION,
    new RegExp(`^AlreadyUnstaking: node ${unstaking.address} is unstaking$`),
  );
  refuse(
    'withdraw in the cooldown',
    'withdraw',
    signOperatorRequest(unstaking, operatorRequest(unstaking, 'withdraw')),
    status.FAILED_PRECONDITION,
    new RegExp(
      `^CooldownActive: node ${unstaking.address} may withdraw from ${new Date(until).toISOString().replace(/\./g, '\\.')}$`,
    ),
  );
  refuse(
    'withdraw without unstaking',
    'withdraw',
    signOperatorRequest(staked, operatorRequest(staked, 'withdraw')),
    status.FAILED_PRECONDITION,
    new RegExp(`^NotUnstaking: node ${staked.address} has not requested to unstake$`),
  );
  refuse(
    'stake beyond earnings (self-declared stake)',
    'stake',
    signOperatorRequest(staked, operatorRequest(staked, 'stake', { amount: String(10n ** 30n) })),
    status.FAILED_PRECONDITION,
    new RegExp(
      `^InsufficientFunds: node ${staked.address} holds 0 in claimable earnings, less than the ${10n ** 30n} it asked`,
    ),
  );
  refuse(
    'claim of nothing',
    'claim',
    signOperatorRequest(staked, operatorRequest(staked, 'claim')),
    status.FAILED_PRECONDITION,
    new RegExp(`^NothingToClaim: ${staked.address} has nothing to claim$`),
  );

  for (const [name, call, code, details] of refusals) await assert.rejects(call, refusal(code, details), name);
  assert.equal(new Set(refusals.map(([, , , details]) => details.source)).size, refusals.length);
  assert.deepEqual(state(), before);
  assert.deepEqual(await client.account(unstaking.address), {
    address: unstaking.address,
    stake: 100n,
    unstakingUntilMs: until,
    claimable: 0n,
    deposited: 0n,
    balance: 0n,
    escrow: { backend: 'ledger' },
  });
});

test('a peer over the rate limit for operator calls is refused without touching the state', async () => {
  const { client, state } = await accountsFixture({ rateLimit: { perSecond: 0.01, burst: 2 } });
  const key = generateKeyPair();
  await client.grant(operator, key.address, { stake: 5n });
  await client.grant(operator, key.address, { stake: 5n });
  const before = state();
  await assert.rejects(
    client.grant(operator, key.address, { stake: 5n }),
    refusal(
      status.RESOURCE_EXHAUSTED,
      /^rate limit: more than 2 operator calls \(Grant from 127\.0\.0\.1\) at 0\.01\/s; retry in \d+ ms$/,
    ),
  );
  assert.deepEqual(state(), before);
  // Reads draw on their own bucket.
  assert.equal((await client.account(key.address)).stake, 10n);
});

test('a registry that keeps no accounts says so; GetAccount names a bad address', async () => {
  const { client: bare } = await accountsFixture({}, false);
  const key = generateKeyPair();
  await assert.rejects(
    bare.stake(key, 1n),
    refusal(status.FAILED_PRECONDITION, /^this registry keeps no stakes or payouts$/),
  );
  await assert.rejects(
    bare.grant(operator, key.address, { deposit: 1n }),
    refusal(status.FAILED_PRECONDITION, /^this registry keeps no stakes or payouts$/, 'NO_ACCOUNTS'),
  );
  await assert.rejects(
    bare.account(key.address),
    refusal(status.FAILED_PRECONDITION, /^this registry keeps no stakes or payouts$/),
  );
  const { client } = await accountsFixture();
  await assert.rejects(
    client.account('0x1234'),
    refusal(status.INVALID_ARGUMENT, /^address must be 0x and 40 hex digits \(a node id\), got "0x1234"$/),
  );
});

test('only a grant signed by an operator key, fresh and used once, credits the ledger', async () => {
  const { registry, client, state } = await accountsFixture();
  const member = generateKeyPair();
  const stranger = generateKeyPair();
  const unstaking = generateKeyPair();
  await client.grant(operator, unstaking.address, { stake: 10n });
  await client.requestUnstake(unstaking);
  const used = signGrant(operator, grant(operator, member, { stake: '7', deposit: '3' }));
  assert.deepEqual(await send(registry.endpoint, 'grant', used), { stake: '7', balance: '3' });
  const before = state();

  const cases: [string, SignedPayload, status, RegExp, string][] = [
    [
      'a stranger signing as itself',
      signGrant(stranger, grant(stranger, stranger, { stake: String(10n ** 30n) })),
      status.PERMISSION_DENIED,
      new RegExp(
        `^grant signed by ${stranger.address}, which is not one of this cluster's operator keys \\(operatorKeys: ${operator.address}\\)$`,
      ),
      'OPERATOR_KEY_UNKNOWN',
    ],
    [
      'a stranger naming the operator',
      signGrant(stranger, grant(operator, stranger)),
      status.UNAUTHENTICATED,
      new RegExp(`^grant is signed by ${stranger.address}, not by operator ${operator.address}$`),
      'BAD_SIGNATURE',
    ],
    [
      'a replay',
      used,
      status.ALREADY_EXISTS,
      /^replayed grant: nonce [0-9a-f]{32} was already used; each grant is accepted once/,
      'NONCE_REPLAYED',
    ],
    [
      'a stale grant',
      signGrant(operator, grant(operator, member, { timestampMs: Date.now() - 95_000 })),
      status.INVALID_ARGUMENT,
      /^stale timestamp: grant dated 95 s behind registry time/,
      'TIMESTAMP_STALE',
    ],
    [
      'a grant of nothing',
      signGrant(operator, { ...grant(operator, member), stake: undefined } as never),
      status.INVALID_ARGUMENT,
      /^malformed grant: a grant credits stake, deposit or both$/,
      'MALFORMED_REQUEST',
    ],
    [
      'stake for an unstaking member',
      signGrant(operator, grant(operator, unstaking)),
      status.FAILED_PRECONDITION,
      new RegExp(`^AlreadyUnstaking: node ${unstaking.address} is unstaking$`),
      'ALREADY_UNSTAKING',
    ],
  ];
  for (const [name, signed, code, details, reason] of cases)
    await assert.rejects(send(registry.endpoint, 'grant', signed), refusal(code, details, reason), name);
  assert.deepEqual(state(), before);
  assert.equal((await client.account(stranger.address)).stake, 0n);
  assert.equal((await client.account(member.address)).stake, 7n);
});

test('a cluster that names no operator key grants nothing, whoever signs', async () => {
  const { client, state } = await accountsFixture({ operatorKeys: [] });
  const key = generateKeyPair();
  const before = state();
  await assert.rejects(
    client.grant(operator, key.address, { stake: 1n }),
    refusal(
      status.PERMISSION_DENIED,
      new RegExp(
        `^grant signed by ${operator.address}, but this cluster names no operator keys \\(operatorKeys in its cluster config\\), so nothing may be granted$`,
      ),
      'OPERATOR_KEY_UNKNOWN',
    ),
  );
  assert.deepEqual(state(), before);
});
