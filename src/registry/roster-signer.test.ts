import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { TesseraError } from '../core/errors.ts';
import { generateKeyPair } from '../crypto/keys.ts';
import { openRoster, rosterSigner } from '../chain/roster.ts';
import { RosterSigner, type RosterSignerOptions } from './roster-signer.ts';

const clock = { blockIntervalMs: 1000, epochSlots: 10 };
/** Epoch 100 by the signer's clock. */
const now = () => 100 * 10 * 1000 + 5;
const [a, b, c] = ['0x' + 'a'.repeat(40), '0x' + 'b'.repeat(40), '0x' + 'c'.repeat(40)] as const;

function withDb(work: (path: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-rosters-'));
  return work(join(dir, 'registry.db')).finally(() => rmSync(dir, { recursive: true, force: true }));
}

const refused = (code: string) => (error: unknown) => error instanceof TesseraError && error.code === code;

test('one roster per epoch, the same after a restart; epochs far from the clock are refused', () =>
  withDb(async (path) => {
    let live = [c, a];
    const options = (db: Database.Database): RosterSignerOptions => ({
      db,
      registryKeys: [],
      liveDaemons: () => live,
      minimum: 0n,
      banned: () => false,
      now,
    });
    const db = new Database(path);
    const signer = new RosterSigner(options(db));
    const first = await signer.roster(100, clock);
    assert.deepEqual(first.authorities, [rosterSigner(first.roster)]);
    assert.deepEqual(openRoster(first.roster).roster, {
      epoch: 100,
      daemons: [
        { address: a, stake: '1' },
        { address: c, stake: '1' },
      ],
    });
    live = [b];
    assert.equal(
      Buffer.from((await signer.roster(100, clock)).roster.signature).toString('hex'),
      Buffer.from(first.roster.signature).toString('hex'),
      'signed once',
    );
    await assert.rejects(signer.roster(102, clock), refused('EPOCH_NOT_OPEN'));
    await assert.rejects(signer.roster(98, clock), refused('EPOCH_NOT_OPEN'));
    await assert.rejects(signer.roster(100, { ...clock, epochSlots: 1 }), refused('CLOCK_MISMATCH'));
    db.close();
    const again = new RosterSigner(options(new Database(path)));
    const reread = await again.roster(100, clock);
    assert.equal(Buffer.from(reread.roster.payload).toString(), Buffer.from(first.roster.payload).toString());
    assert.deepEqual(reread.authorities, first.authorities, 'the same roster key after a restart');
    assert.deepEqual(
      openRoster((await again.roster(101, clock)).roster).roster.daemons.map((d) => d.address),
      [b],
    );
  }));

test('with stakes, a roster weighs daemons by stake and leaves out those below the minimum or banned', () =>
  withDb(async (path) => {
    const key = generateKeyPair();
    const stakes = new Map([
      [a, 10n ** 30n],
      [b, 99n],
      [c, 100n],
    ]);
    const signer = new RosterSigner({
      db: new Database(path),
      key,
      registryKeys: [key.address],
      liveDaemons: () => [a, b, c, '0x' + 'd'.repeat(40)],
      stakes: { stakeOf: async (n) => ({ amount: stakes.get(n) ?? 0n }) },
      minimum: 100n,
      banned: (address) => address === c,
      now,
    });
    const signed = await signer.roster(100, clock);
    assert.equal(rosterSigner(signed.roster), key.address);
    assert.deepEqual(openRoster(signed.roster).roster.daemons, [{ address: a, stake: (10n ** 30n).toString() }]);
    const unlisted = new RosterSigner({
      db: new Database(':memory:'),
      registryKeys: [generateKeyPair().address],
      liveDaemons: () => [a],
      minimum: 0n,
      banned: () => false,
      now,
    });
    await assert.rejects(unlisted.roster(100, clock), refused('ROSTER_KEY_NOT_LISTED'));
    const empty = new RosterSigner({
      db: new Database(':memory:'),
      registryKeys: [],
      liveDaemons: () => [],
      minimum: 0n,
      banned: () => false,
      now,
    });
    await assert.rejects(empty.roster(100, clock), refused('NO_ELIGIBLE_DAEMONS'));
  }));
