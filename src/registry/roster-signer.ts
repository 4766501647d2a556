import type Database from 'better-sqlite3';
import { TesseraError } from '../core/errors.ts';
import { generateKeyPair, keyPairFromSecret, type KeyPair } from '../crypto/keys.ts';
import type { RosterAuthority } from '../chain/membership-service.ts';
import type { RosterClock, SignedRoster } from '../chain/membership.ts';
import { signRoster, type RosterDaemon } from '../chain/roster.ts';
import type { StakeReader } from './stake-gate.ts';

export interface RosterSignerOptions {
  readonly db: Database.Database;
  /** The registry's key; none: a roster key this registry creates once and keeps in its database. */
  readonly key?: KeyPair;
  /** The cluster config's registryKeys: the roster authorities, when it lists any. */
  readonly registryKeys: readonly string[];
  /** The addresses of the live daemons. */
  readonly liveDaemons: () => readonly string[];
  /** Where stakes are read; none: every live daemon weighs 1. */
  readonly stakes?: StakeReader;
  /** The cluster's daemon stake minimum (a roster takes at least 1). */
  readonly minimum: bigint;
  /** Daemons that may never lead again (proven equivocators). */
  readonly banned: (address: string) => boolean;
  /** The chain's slot and epoch lengths, when the registry is told them; else the first request's are kept. */
  readonly clock?: RosterClock;
  readonly now?: () => number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS chain_rosters (epoch INTEGER PRIMARY KEY, payload BLOB NOT NULL, signature BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS roster_key (id INTEGER PRIMARY KEY CHECK (id = 1), secret BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS roster_clock (id INTEGER PRIMARY KEY CHECK (id = 1), block_interval_ms INTEGER NOT NULL, epoch_slots INTEGER NOT NULL);
`;

const refuse = (code: string, kind: 'invalid' | 'failed_precondition', message: string) =>
  new TesseraError(code, kind, message);

/**
 * The registry's side of the leader schedule: it signs at most one roster per epoch (kept in its
 * database, so a restart answers the same), of the live daemons with stake at least max(minimum, 1)
 * weighted by stake, or every live daemon at weight 1 where there are no stakes. It signs only the
 * current epoch by its clock, the one before and the one after: no roster for a past epoch that
 * never had one, so nobody can lead slots of 1970.
 */
export class RosterSigner implements RosterAuthority {
  readonly #options: RosterSignerOptions;
  readonly #key: KeyPair;
  /** One signing at a time: two requests for one epoch get the same roster. */
  #turn: Promise<unknown> = Promise.resolve();

  constructor(options: RosterSignerOptions) {
    this.#options = options;
    options.db.exec(SCHEMA);
    this.#key = options.key ?? this.#storedKey();
  }

  /** Whose roster signatures daemons accept. */
  get authorities(): readonly string[] {
    return this.#options.registryKeys.length > 0 ? this.#options.registryKeys : [this.#key.address];
  }

  roster(epoch: number, clock: RosterClock): Promise<SignedRoster> {
    const turn = this.#turn.then(() => this.#roster(epoch, clock));
    this.#turn = turn.catch(() => undefined);
    return turn;
  }

  async #roster(epoch: number, requested: RosterClock): Promise<SignedRoster> {
    const { db } = this.#options;
    const authorities = this.authorities;
    if (!authorities.includes(this.#key.address))
      throw refuse(
        'ROSTER_KEY_NOT_LISTED',
        'failed_precondition',
        `this registry signs rosters with ${this.#key.address}, which the cluster config's registryKeys do not list: start it with --key of a listed key`,
      );
    const clock = this.#clock(requested);
    const stored = db.prepare('SELECT payload, signature FROM chain_rosters WHERE epoch = ?').get(epoch) as
      { payload: Buffer; signature: Buffer } | undefined;
    if (stored !== undefined) return { roster: stored, authorities };
    const nowMs = (this.#options.now ?? Date.now)();
    const current = Math.floor(Math.floor(nowMs / clock.blockIntervalMs) / clock.epochSlots);
    if (epoch > current + 1)
      throw refuse(
        'EPOCH_NOT_OPEN',
        'failed_precondition',
        `epoch ${epoch} is ${epoch - current} ahead of the current epoch ${current}: rosters are signed at most one epoch ahead`,
      );
    if (epoch < current - 1)
      throw refuse(
        'EPOCH_NOT_OPEN',
        'failed_precondition',
        `epoch ${epoch} is past (the current epoch is ${current}) and had no roster: none is signed after the fact`,
      );
    const daemons = await this.#members();
    if (daemons.length === 0)
      throw refuse(
        'NO_ELIGIBLE_DAEMONS',
        'failed_precondition',
        `no live daemon has the stake to lead epoch ${epoch} (at least ${this.#floor()})`,
      );
    const signed = signRoster(this.#key, { epoch, daemons });
    db.prepare('INSERT OR IGNORE INTO chain_rosters (epoch, payload, signature) VALUES (?, ?, ?)').run(
      epoch,
      signed.payload,
      signed.signature,
    );
    return { roster: signed, authorities };
  }

  #floor(): bigint {
    return this.#options.minimum > 1n ? this.#options.minimum : 1n;
  }

  async #members(): Promise<RosterDaemon[]> {
    const { stakes, liveDaemons, banned } = this.#options;
    const live = [...new Set(liveDaemons())].filter((a) => !banned(a)).sort();
    if (stakes === undefined) return live.map((address) => ({ address, stake: '1' }));
    const amounts = await Promise.all(live.map(async (address) => (await stakes.stakeOf(address)).amount));
    return live
      .map((address, i) => ({ address, amount: amounts[i]! }))
      .filter((d) => d.amount >= this.#floor())
      .map((d) => ({ address: d.address, stake: d.amount.toString() }));
  }

  /** The configured clock, else the one kept from the first request: epochs mean one thing to this registry. */
  #clock(requested: RosterClock): RosterClock {
    const valid = (c: RosterClock) =>
      Number.isSafeInteger(c.blockIntervalMs) &&
      c.blockIntervalMs >= 10 &&
      Number.isSafeInteger(c.epochSlots) &&
      c.epochSlots >= 1;
    if (!valid(requested))
      throw refuse(
        'BAD_CLOCK',
        'invalid',
        `block interval ${requested.blockIntervalMs} ms and ${requested.epochSlots} slots per epoch are not a chain's clock`,
      );
    const { db } = this.#options;
    const kept =
      this.#options.clock ??
      (db
        .prepare(
          'SELECT block_interval_ms AS blockIntervalMs, epoch_slots AS epochSlots FROM roster_clock WHERE id = 1',
        )
        .get() as RosterClock | undefined);
    if (kept === undefined) {
      db.prepare('INSERT OR IGNORE INTO roster_clock (id, block_interval_ms, epoch_slots) VALUES (1, ?, ?)').run(
        requested.blockIntervalMs,
        requested.epochSlots,
      );
      return requested;
    }
    if (kept.blockIntervalMs !== requested.blockIntervalMs || kept.epochSlots !== requested.epochSlots)
      throw refuse(
        'CLOCK_MISMATCH',
        'failed_precondition',
        `this registry's chain has ${kept.blockIntervalMs} ms slots and ${kept.epochSlots} slots per epoch; the request says ${requested.blockIntervalMs} ms and ${requested.epochSlots}`,
      );
    return kept;
  }

  #storedKey(): KeyPair {
    const { db } = this.#options;
    const row = db.prepare('SELECT secret FROM roster_key WHERE id = 1').get() as { secret: Buffer } | undefined;
    if (row !== undefined) return keyPairFromSecret(row.secret);
    const key = generateKeyPair();
    db.prepare('INSERT OR IGNORE INTO roster_key (id, secret) VALUES (1, ?)').run(Buffer.from(key.secretKey));
    return keyPairFromSecret(
      (db.prepare('SELECT secret FROM roster_key WHERE id = 1').get() as { secret: Buffer }).secret,
    );
  }
}
