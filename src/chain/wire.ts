import type { Block as BlockMessage } from '../proto/tessera/v1/Block.ts';
import type { Block__Output } from '../proto/tessera/v1/Block.ts';
import { openHeader, type Block } from './block.ts';
import { RecordFormatError, sha256, type SignedRecord } from './record.ts';

export function blockToWire(block: Block): BlockMessage {
  const signed = (r: SignedRecord) => ({ payload: r.payload, signature: r.signature });
  return { header: signed(block.signedHeader), shares: block.shares.map(signed), receipts: block.receipts.map(signed) };
}

/** A block from the wire, its header parsed; a RecordFormatError when it is not one. */
export function blockFromWire(message: Block__Output | null | undefined): Block {
  if (message?.header == null) throw new RecordFormatError('block without a header');
  const signedHeader = { payload: message.header.payload, signature: message.header.signature };
  return { header: openHeader(signedHeader.payload), hash: sha256(signedHeader.payload), signedHeader, shares: message.shares, receipts: message.receipts };
}
