import { hex } from '../crypto/hash.ts';
import type { Block } from './block.ts';
import { leaderOf, openRoster, rosterHashOf, rosterSigner, type OpenedRoster } from './roster.ts';
import { RecordFormatError } from '../protocol/record.ts';
import type { ChainStore } from './store.ts';

/**
 * Why a block's roster does not let its producer sign it, or undefined when it does: the roster is
 * the one the header names, signed by a registry authority (checked once: a roster held here was
 * checked when it came), of the block's epoch, and draws the producer as the slot's leader. Throws
 * a plain Error (not a verdict on the block) while no authority is known and the roster is new here.
 */
export function checkBlockRoster(
  block: Block,
  epoch: number,
  store: ChainStore,
  authorities: ReadonlySet<string> | undefined,
): string | undefined {
  const { header } = block;
  if (block.roster.payload.length === 0) return 'it carries no roster';
  const hash = rosterHashOf(block.roster.payload);
  if (hex(hash) !== header.rosterHash) return "its roster does not match the header's roster hash";
  let roster: OpenedRoster;
  try {
    roster = openRoster(block.roster);
  } catch (error) {
    if (error instanceof RecordFormatError) return error.message;
    throw error;
  }
  if (store.roster(hash) === undefined) {
    if (authorities === undefined)
      throw new Error(`cannot check block ${hex(block.hash)}: the registry's roster authorities are not known yet`);
    const signer = rosterSigner(block.roster);
    if (signer === undefined || !authorities.has(signer))
      return `its roster is signed by ${signer ?? 'a malformed signature'}, not by a registry authority (${[...authorities].join(', ')})`;
  }
  if (roster.roster.epoch !== epoch)
    return `its roster is of epoch ${roster.roster.epoch}; slot ${header.slot} is in epoch ${epoch}`;
  if (!roster.roster.daemons.some((d) => d.address === header.producer))
    return `its producer ${header.producer} is not on the roster of epoch ${epoch}`;
  const leader = leaderOf(header.slot, roster);
  if (leader !== header.producer)
    return `its producer ${header.producer} does not lead slot ${header.slot}: the roster of epoch ${epoch} draws ${leader}`;
  return undefined;
}
