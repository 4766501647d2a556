import { sha256 } from '../crypto/hash.ts';
import { canonicalJson } from '../crypto/canonical-json.ts';
import type { KeyPair } from '../crypto/keys.ts';
import { recoverSigner, sign } from '../crypto/signature.ts';
import {
  isAddress,
  isCount,
  parseRecord,
  RecordFormatError,
  requireFields,
  type SignedRecord,
} from '../protocol/record.ts';

export const ROSTER_DOMAIN = 'tessera/v1/roster';

/** A daemon of an epoch's roster, with its weight in the leader draw. */
export interface RosterDaemon {
  readonly address: string;
  /** Decimal, a bigint: stake in the cluster's smallest unit (1 each where the registry has no stakes). */
  readonly stake: string;
}

/** The daemons that lead the slots of one epoch, as a registry signed them. */
export interface Roster {
  readonly epoch: number;
  /** Sorted by address, each once, each with a positive stake. */
  readonly daemons: readonly RosterDaemon[];
}

/** A roster checked for form, with its hash (sha256 of its payload) and its signer. */
export interface OpenedRoster {
  readonly roster: Roster;
  readonly hash: Buffer;
  readonly signed: SignedRecord;
  /** The daemons' stakes, cumulative in address order, and their sum. */
  readonly cumulative: readonly bigint[];
  readonly total: bigint;
}

const STAKE = /^[1-9][0-9]{0,77}$/;

export function encodeRoster(roster: Roster): Uint8Array {
  return canonicalJson({
    epoch: roster.epoch,
    daemons: [...roster.daemons]
      .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0))
      .map((d) => ({ address: d.address, stake: d.stake })),
  });
}

export function signRoster(authority: KeyPair, roster: Roster): SignedRecord {
  const payload = encodeRoster(roster);
  return { payload, signature: sign(authority, ROSTER_DOMAIN, payload) };
}

export function rosterHashOf(payload: Uint8Array): Buffer {
  return sha256(payload);
}

/** The roster a signed record holds, and who signed it; a RecordFormatError names what is malformed. */
export function openRoster(signed: SignedRecord): OpenedRoster {
  const r = parseRecord(signed.payload, 'roster', ['epoch', 'daemons']);
  requireFields('roster', { epoch: isCount(r.epoch), daemons: Array.isArray(r.daemons) && r.daemons.length > 0 });
  const daemons = r.daemons as unknown[];
  let previous = '';
  const cumulative: bigint[] = [];
  let total = 0n;
  daemons.forEach((d, i) => {
    const entry = d as Record<string, unknown>;
    if (
      typeof d !== 'object' ||
      d === null ||
      Object.keys(entry).length !== 2 ||
      !isAddress(entry.address) ||
      typeof entry.stake !== 'string' ||
      !STAKE.test(entry.stake)
    )
      throw new RecordFormatError(
        `malformed roster: daemon ${i} must be {address, stake} with a positive decimal stake`,
      );
    if (entry.address <= previous)
      throw new RecordFormatError('malformed roster: daemons must be sorted by address, each once');
    previous = entry.address;
    total += BigInt(entry.stake);
    cumulative.push(total);
  });
  return {
    roster: r as unknown as Roster,
    hash: rosterHashOf(signed.payload),
    signed,
    cumulative,
    total,
  };
}

/** The address that signed a roster, or undefined for a malformed signature. */
export function rosterSigner(signed: SignedRecord): string | undefined {
  return recoverSigner(ROSTER_DOMAIN, signed.payload, signed.signature);
}

/**
 * The daemon that leads `slot`: a stake-weighted draw every daemon computes alike, r =
 * sha256(roster hash ‖ slot as 8 big-endian bytes) as an unsigned integer mod the total stake, and
 * the first daemon (in address order) whose cumulative stake exceeds r.
 */
export function leaderOf(slot: number, roster: OpenedRoster): string {
  const seed = Buffer.alloc(40);
  roster.hash.copy(seed, 0);
  seed.writeBigUInt64BE(BigInt(slot), 32);
  const r = BigInt(`0x${sha256(seed).toString('hex')}`) % roster.total;
  const index = roster.cumulative.findIndex((c) => r < c);
  return roster.roster.daemons[index]!.address;
}
