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
    advance: async (seconds) => {
      clock.ms += seconds * 1000;
    },
    close: () => ledger.close(),
  };
});

test('the challenge window closes exactly when finalization opens', async () => {
  const { ledger, clock } = openLedger({ challengeWindowS: 5 });
  await ledger.deposit('c', 10n);
  const endsAt = await ledger.postSettlement({ hash: hash(1), payouts: [{ node: 'n', amount: 10n }] });
  await ledger.postSettlement({ hash: hash(2), payouts: [{ node: 'n', amount: 1n }] });
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
  await ledger.stake('n', 4n);
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
  await ledger.deposit('c', 2n ** 70n);
  await ledger.stake('n1', 100n);
  await ledger.stake('n2', 50n);
  await ledger.requestUnstake('n2');
  await ledger.slash('n1', 5000, hash(9));
  await ledger.postSettlement({ hash: hash(1), payouts: [{ node: 'n1', amount: 2n ** 69n }] });
  await ledger.postSettlement({ hash: hash(2), payouts: [{ node: 'n2', amount: 3n }] });
  await ledger.challenge(hash(2), 'bad shares');
  clock.ms += 61_000;
  await ledger.finalize(hash(1));
  const before = {
    available: await ledger.available(),
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
      available: await reopened.available(),
      n1: await reopened.stakeOf('n1'),
      n2: await reopened.stakeOf('n2'),
      s1: await reopened.settlementState(hash(1)),
      s2: await reopened.settlementState(hash(2)),
      claimN1: await reopened.claimable('n1'),
      claimTreasury: await reopened.claimable('registry'),
    },
    before,
  );
  assert.equal(before.available, 2n ** 69n);
  assert.equal(before.claimTreasury, 50n);
  await assert.rejects(reopened.slash('n1', 5000, hash(9)), { code: 'EvidenceAlreadyUsed' });
  await reopened.close();
});

test('a refused operation changes nothing', async () => {
  const { ledger } = openLedger();
  await ledger.deposit('c', 5n);
  await ledger.postSettlement({ hash: hash(1), payouts: [{ node: 'n', amount: 9n }] });
  await assert.rejects(
    ledger.finalize(hash(1)),
    (e: unknown) => e instanceof EscrowError && e.code === 'ChallengeWindowOpen',
  );
  await assert.rejects(ledger.deposit('c', -1n), RangeError);
  assert.equal(await ledger.available(), 5n);
  assert.equal((await ledger.settlementState(hash(1))).status, 'posted');
  await ledger.close();
});

test('every acknowledged operation survives kill -9', async () => {
  const { path } = openLedger();
  // The child acknowledges an iteration only after its deposit and settlement have resolved.
  const script = `
    import { LedgerBackend } from ${JSON.stringify(new URL('./ledger-backend.ts', import.meta.url).href)};
    const ledger = new LedgerBackend({ path: ${JSON.stringify(path)} });
    for (let i = 1; ; i++) {
      await ledger.deposit('client', 1n);
      await ledger.postSettlement({ hash: '0x' + i.toString(16).padStart(64, '0'), payouts: [{ node: 'node', amount: 1n }] });
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
  const available = await ledger.available();
  assert.ok(available >= BigInt(acked), `${acked} deposits acknowledged, ${available} survived`);
  for (let i = 1; i <= acked; i++)
    assert.equal((await ledger.settlementState(hash(i))).status, 'posted', `settlement ${i}`);
  // A deposit beyond the last acknowledgement may have committed; no settlement beyond it without its deposit.
  assert.equal((await ledger.settlementState(hash(Number(available) + 1))).status, 'none');
  await ledger.close();
});
