import type Database from 'better-sqlite3';
import { silentLogger, type Logger } from '../core/log.ts';
import { TesseraError } from '../core/errors.ts';
import { hex, sha256 } from '../crypto/hash.ts';
import { recoverSigner } from '../crypto/signature.ts';
import { BLOCK_DOMAIN, openHeader, type BlockHeader } from '../chain/block.ts';
import type { EquivocationJudge as Judge } from '../chain/membership-service.ts';
import type { EquivocationVerdict } from '../chain/membership.ts';
import { RecordFormatError, type SignedRecord } from '../protocol/record.ts';
import type { StakeSlasher } from './audit-service.ts';
import { EscrowError } from './settlement-backend.ts';

export interface EquivocationOptions {
  readonly db: Database.Database;
  /** Takes the producer out of the live daemons at once. */
  readonly evict: (address: string) => void;
  /** Where the stake is taken; none: the evidence is kept and the producer evicted and banned. */
  readonly slasher?: StakeSlasher;
  /** The cluster's fraud fraction, in basis points. */
  readonly fractionBps: number;
  readonly log?: Logger;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS chain_equivocations (
  evidence BLOB PRIMARY KEY,
  producer TEXT NOT NULL,
  slot INTEGER NOT NULL,
  at_ms INTEGER NOT NULL,
  slashed TEXT
);
CREATE INDEX IF NOT EXISTS chain_equivocations_by_producer ON chain_equivocations (producer);
`;

/** sha256 of the two block hashes, sorted: one pair is one piece of evidence whichever way it is sent. */
export function equivocationEvidence(a: Uint8Array, b: Uint8Array): Buffer {
  return sha256(Buffer.concat([Buffer.from(a), Buffer.from(b)].sort(Buffer.compare)));
}

/**
 * Two different block headers signed by one producer for one slot prove it equivocated (an honest
 * daemon signs one block per slot): the registry keeps the evidence once, evicts the producer, bans
 * it from rosters and registration, and slashes its stake by the fraud fraction.
 */
export class EquivocationJudgeService implements Judge {
  readonly #options: EquivocationOptions;

  constructor(options: EquivocationOptions) {
    this.#options = options;
    options.db.exec(SCHEMA);
  }

  /** Why `address` may not register or lead, when it was proven to equivocate. */
  banReason(address: string): string | undefined {
    const row = this.#options.db
      .prepare('SELECT slot, hex(evidence) AS evidence FROM chain_equivocations WHERE producer = ? LIMIT 1')
      .get(address) as { slot: number; evidence: string } | undefined;
    return row === undefined
      ? undefined
      : `daemon ${address} signed two blocks for slot ${row.slot} (evidence ${row.evidence.toLowerCase()}); it may not rejoin`;
  }

  async report(first: SignedRecord, second: SignedRecord): Promise<EquivocationVerdict> {
    const { db, log = silentLogger } = this.#options;
    const a = openSigned(first, 'first');
    const b = openSigned(second, 'second');
    const hashA = sha256(first.payload);
    const hashB = sha256(second.payload);
    if (hashA.equals(hashB))
      throw new TesseraError('NOT_EQUIVOCATION', 'invalid', 'both headers are the same block: no equivocation');
    if (a.producer !== b.producer)
      throw new TesseraError(
        'DIFFERENT_PRODUCERS',
        'invalid',
        `the headers are of two producers (${a.producer}, ${b.producer}): equivocation is one producer's`,
      );
    if (a.slot !== b.slot)
      throw new TesseraError(
        'DIFFERENT_SLOTS',
        'invalid',
        `the headers are of slots ${a.slot} and ${b.slot}: equivocation is two blocks for one slot`,
      );
    const evidence = equivocationEvidence(hashA, hashB);
    const inserted = db
      .prepare(
        'INSERT INTO chain_equivocations (evidence, producer, slot, at_ms) VALUES (?, ?, ?, ?) ON CONFLICT (evidence) DO NOTHING',
      )
      .run(evidence, a.producer, a.slot, Date.now()).changes;
    if (inserted === 0)
      throw new TesseraError(
        'EVIDENCE_ALREADY_USED',
        'already_exists',
        `evidence ${hex(evidence)} of ${a.producer} at slot ${a.slot} was already reported`,
      );
    this.#options.evict(a.producer);
    let slashed = 0n;
    const { slasher, fractionBps } = this.#options;
    if (slasher !== undefined && fractionBps > 0) {
      try {
        slashed = await slasher.slash(a.producer, fractionBps, `0x${hex(evidence)}`);
      } catch (error) {
        const code = error instanceof EscrowError ? error.code : undefined;
        if (code === 'EvidenceAlreadyUsed')
          throw new TesseraError(
            'EVIDENCE_ALREADY_USED',
            'already_exists',
            `the settlement back end already slashed ${a.producer} for evidence ${hex(evidence)}`,
          );
        if (code !== 'NoStake') {
          // Not on record, so the report can be made again once the back end answers.
          db.prepare('DELETE FROM chain_equivocations WHERE evidence = ?').run(evidence);
          log('slash_failed', { daemon: a.producer, evidence: hex(evidence), error: (error as Error).message });
          throw new TesseraError(
            'SLASH_FAILED',
            'unavailable',
            `the stake of ${a.producer} could not be slashed: ${(error as Error).message}; report again`,
          );
        }
      }
    }
    db.prepare('UPDATE chain_equivocations SET slashed = ? WHERE evidence = ?').run(slashed.toString(), evidence);
    log('daemon_equivocated', {
      daemon: a.producer,
      slot: a.slot,
      evidence: hex(evidence),
      slashed: slashed.toString(),
    });
    return { producer: a.producer, slot: a.slot, evidenceHash: evidence, slashed: slashed.toString() };
  }
}

function openSigned(signed: SignedRecord, which: string): BlockHeader {
  let header: BlockHeader;
  try {
    header = openHeader(signed.payload);
  } catch (error) {
    if (error instanceof RecordFormatError)
      throw new TesseraError('MALFORMED_EVIDENCE', 'invalid', `${which} header: ${error.message}`);
    throw error;
  }
  if (header.height === 0)
    throw new TesseraError('MALFORMED_EVIDENCE', 'invalid', `${which} header is a genesis block`);
  const signer = recoverSigner(BLOCK_DOMAIN, signed.payload, signed.signature);
  if (signer !== header.producer)
    throw new TesseraError(
      'BAD_SIGNATURE',
      'invalid',
      `${which} header is signed by ${signer ?? 'a malformed signature'}, not by its producer ${header.producer}`,
    );
  return header;
}
