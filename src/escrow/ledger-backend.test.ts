import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { LedgerBackend } from './ledger-backend.ts';
import type { LedgerBackendOptions } from './ledger-backend.ts';
import { settlementBackendSuite } from '../../test/support/settlement-backend-suite.ts';
import { EscrowError } from '../registry/settlement-backend.ts';
import type { Hash32 } from '../registry/settlement-backend.ts';

const dir = mkdtempSync(join(tmpdir(), 'tessera-ledger-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
let grants = 0;
const START_MS = Date.UTC(2030, 0, 1);

function openLedger(options: Partial<LedgerBackendOptions> = {}): {
  ledger: LedgerBackend;
  clock: { ms: number };
  path: string;
} {
  const clock = { ms: START_MS };
  const path = options.path ?? join(dir, `ledger-${files++}.db`);
  return { ledger: new LedgerBackend({ now: () => clock.ms, ...options, path }), clock, path };
}

function hash(n: number): Hash32 {
  return `0x${n.toString(16).padStart(64, '0')}`;
}

settlementBackendSuite('SQLite ledger', async () => {
  const { ledger, clock } = openLedger();
  return {
    backend: ledger,
    clients: ['client-a', 'client-b'],
    nodes: ['node-1', 'node-2', 'node-3'],
    bond: (node, amount) => ledger.grant(node, { stake: amount }, hash(0xbeef0000 + grants++)),
    advance: async (seconds) => {
      clock.ms += seconds * 1000;
    },
    close: () => ledger.close(),
  };
});

test('the challenge window closes exactly when finalization opens', async () => {
  const { ledger, clock } = openLedger({ challengeWindowS: 5 });
  await ledger.deposit('c', 11n);
  const endsAt = await ledger.postSettlement({
    hash: hash(1),
    payouts: [{ node: 'n', amount: 10n }],
    debits: [{ client: 'c', amount: 10n }],
  });
  await ledger.postSettlement({
    hash: hash(2),
    payouts: [{ node: 'n', amount: 1n }],
    debits: [{ client: 'c', amount: 1n }],
  });
  assert.equal(endsAt, START_MS + 5000);

  clock.ms = endsAt - 1;
  await assert.rejects(ledger.finalize(hash(1)), { code: 'ChallengeWindowOpen' });
  await ledger.challenge(hash(2), 'last millisecond');
  clock.ms = endsAt;
  await assert.rejects(ledger.challenge(hash(1), 'too late'), { code: 'ChallengeWindowClosed' });
  await ledger.finalize(hash(1));
  assert.equal(await ledger.claimable('n'), 10n);
  await ledger.close();
});

test('the unstaking cooldown is configurable and ends exactly at its instant', async () => {
  const { ledger, clock } = openLedger({ unstakeCooldownS: 10 });
  await ledger.grant('n', { stake: 4n }, hash(1));
  const until = await ledger.requestUnstake('n');
  assert.equal(until, START_MS + 10_000);
  clock.ms = until - 1;
  await assert.rejects(ledger.withdrawStake('n'), { code: 'CooldownActive' });
  clock.ms = until;
  assert.equal(await ledger.withdrawStake('n'), 4n);
  await ledger.close();
});

test('every balance survives closing and reopening the file', async () => {
  const first = openLedger({ treasury: 'registry' });
  const { ledger, clock, path } = first;
  await ledger.grant('c', { deposit: 2n ** 70n }, hash(20));
  await ledger.grant('n1', { stake: 100n }, hash(21));
  await ledger.grant('n2', { stake: 50n, deposit: 9n }, hash(22));
  await ledger.requestUnstake('n2');
  await ledger.slash('n1', 5000, hash(9));
  await ledger.postSettlement({
    hash: hash(1),
    payouts: [{ node: 'n1', amount: 2n ** 69n }],
    debits: [{ client: 'c', amount: 2n ** 69n }],
  });
  await ledger.postSettlement({
    hash: hash(2),
    payouts: [{ node: 'n2', amount: 3n }],
    debits: [{ client: 'c', amount: 3n }],
  });
  await ledger.challenge(hash(2), 'bad shares');
  clock.ms += 61_000;
  await ledger.finalize(hash(1));
  await ledger.stakeFromEarnings('n1', 2n ** 68n);
  const before = {
    balance: await ledger.balanceOf('c'),
    balanceN2: await ledger.balanceOf('n2'),
    n1: await ledger.stakeOf('n1'),
    n2: await ledger.stakeOf('n2'),
    s1: await ledger.settlementState(hash(1)),
    s2: await ledger.settlementState(hash(2)),
    claimN1: await ledger.claimable('n1'),
    claimTreasury: await ledger.claimable('registry'),
  };
  await ledger.close();

  const reopened = new LedgerBackend({ path, treasury: 'registry', now: () => clock.ms });
  assert.deepEqual(
    {
      balance: await reopened.balanceOf('c'),
      balanceN2: await reopened.balanceOf('n2'),
      n1: await reopened.stakeOf('n1'),
      n2: await reopened.stakeOf('n2'),
      s1: await reopened.settlementState(hash(1)),
      s2: await reopened.settlementState(hash(2)),
      claimN1: await reopened.claimable('n1'),
      claimTreasury: await reopened.claimable('registry'),
    },
    before,
  );
  assert.equal(before.balance, 2n ** 70n - 2n ** 69n);
  assert.equal(before.balanceN2, 9n);
  assert.deepEqual(before.n1, { amount: 50n + 2n ** 68n });
  assert.equal(before.claimN1, 2n ** 69n - 2n ** 68n);
  assert.equal(before.claimTreasury, 50n);
  await assert.rejects(reopened.slash('n1', 5000, hash(9)), { code: 'EvidenceAlreadyUsed' });
  await assert.rejects(reopened.grant('c', { deposit: 1n }, hash(20)), { code: 'EvidenceAlreadyUsed' });
  await reopened.close();
});

test('a refused operation changes nothing', async () => {
  const { ledger } = openLedger();
  await ledger.deposit('c', 15n);
  await ledger.postSettlement({
    hash: hash(1),
    payouts: [{ node: 'n', amount: 9n }],
    debits: [{ client: 'c', amount: 9n }],
  });
  await assert.rejects(
    ledger.finalize(hash(1)),
    (e: unknown) => e instanceof EscrowError && e.code === 'ChallengeWindowOpen',
  );
  await assert.rejects(ledger.deposit('c', -1n), RangeError);
  await assert.rejects(ledger.grant('c', { deposit: -1n }, hash(2)), RangeError);
  await assert.rejects(ledger.grant('c', {}, hash(2)), { code: 'ZeroAmount' });
  await assert.rejects(ledger.grant('n', { stake: 0n, deposit: 0n }, hash(2)), { code: 'ZeroAmount' });
  assert.equal(await ledger.balanceOf('c'), 6n);
  assert.deepEqual(await ledger.stakeOf('n'), { amount: 0n });
  assert.equal((await ledger.settlementState(hash(1))).status, 'posted');
  // The refused grants left no trace of their evidence: the same grant may still be credited once.
  await ledger.grant('c', { deposit: 1n }, hash(2));
  assert.equal(await ledger.balanceOf('c'), 7n);
  await ledger.close();
});

test('a grant credits stake and deposit once per piece of evidence, and never to an unstaking node', async () => {
  const { ledger } = openLedger();
  await ledger.grant('op-node', { stake: 10n, deposit: 3n }, hash(1));
  assert.deepEqual(await ledger.stakeOf('op-node'), { amount: 10n });
  assert.equal(await ledger.balanceOf('op-node'), 3n);
  assert.equal(await ledger.deposited('op-node'), 3n);
  await assert.rejects(ledger.grant('op-node', { stake: 10n }, hash(1)), { code: 'EvidenceAlreadyUsed' });
  await ledger.requestUnstake('op-node');
  await assert.rejects(ledger.grant('op-node', { stake: 5n, deposit: 5n }, hash(2)), { code: 'AlreadyUnstaking' });
  assert.equal((await ledger.stakeOf('op-node')).amount, 10n);
  assert.equal(await ledger.balanceOf('op-node'), 3n, 'a refused grant credits neither half');
  await ledger.close();
});

test('a version-1 ledger, which pooled deposits, is refused with what to do', async () => {
  const { ledger, path } = openLedger();
  await ledger.close();
  const Database = (await import('better-sqlite3')).default;
  const db = new Database(path);
  db.prepare("UPDATE ledger_meta SET value = '1' WHERE key = 'schema'").run();
  db.close();
  assert.throws(
    () => new LedgerBackend({ path }),
    (error: Error & { code?: string }) =>
      error.code === 'LEDGER_SCHEMA_OUTDATED' &&
      /version 1, which pooled all deposits.*fresh registry database.*--work-dir NEW_DIR/.test(error.message),
  );
});

test('every acknowledged operation survives kill -9', async () => {
  const { path } = openLedger();
  // The child acknowledges an iteration only after its grant and settlement have resolved.
  const script = `
    import { LedgerBackend } from ${JSON.stringify(new URL('./ledger-backend.ts', import.meta.url).href)};
    const ledger = new LedgerBackend({ path: ${JSON.stringify(path)} });
    for (let i = 1; ; i++) {
      await ledger.grant('client', { deposit: 1n }, '0x' + (1e9 + i).toString(16).padStart(64, '0'));
      await ledger.postSettlement({ hash: '0x' + i.toString(16).padStart(64, '0'), payouts: [{ node: 'node', amount: 1n }], debits: [{ client: 'client', amount: 1n }] });
      process.stdout.write('ack ' + i + '\\n');
    }`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once('exit', (_code, signal) => resolve(signal)),
  );
  let acked = 0;
  await new Promise<void>((resolve, reject) => {
    let buffered = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) acked = Number(line.slice('ack '.length));
      if (acked >= 100) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`ledger child exited early with code ${code}`)));
  });
  assert.equal(await exited, 'SIGKILL');

  const ledger = new LedgerBackend({ path });
  const granted = await ledger.deposited('client');
  assert.ok(granted >= BigInt(acked), `${acked} grants acknowledged, ${granted} survived`);
  for (let i = 1; i <= acked; i++)
    assert.equal((await ledger.settlementState(hash(i))).status, 'posted', `settlement ${i}`);
  // A grant beyond the last acknowledgement may have committed; no settlement beyond it without its grant.
  assert.equal((await ledger.settlementState(hash(Number(granted) + 1))).status, 'none');
  let posted = 0n;
  while ((await ledger.settlementState(hash(Number(posted) + 1))).status === 'posted') posted++;
  assert.equal(await ledger.balanceOf('client'), granted - posted, 'each posted settlement reserved its debit');
  await ledger.close();
});
