import { sha256 } from '../crypto/hash.ts';
import type { Block as BlockMessage } from '../proto/tessera/v1/Block.ts';
import type { Block__Output } from '../proto/tessera/v1/Block.ts';
import { openHeader, type Block } from './block.ts';
import { RecordFormatError, type SignedRecord } from '../protocol/record.ts';

const signed = (r: SignedRecord) => ({ payload: r.payload, signature: r.signature });

export function blockToWire(block: Block): BlockMessage {
  const index = new Map(block.statements.map((s, i) => [s, i]));
  return {
    header: signed(block.signedHeader),
    receipts: block.receipts.map(signed),
    statements: block.statements.map(signed),
    shares: block.shares.map((s) => ({ payload: s.payload, statement: index.get(s.statement)! })),
    roster: signed(block.roster),
  };
}

/** A block from the wire, its header parsed and each share linked to its statement; a RecordFormatError when it is not one. */
export function blockFromWire(message: Block__Output | null | undefined): Block {
  if (message?.header == null) throw new RecordFormatError('block without a header');
  const signedHeader = { payload: message.header.payload, signature: message.header.signature };
  const statements = message.statements.map(signed);
  const shares = message.shares.map((s, i) => {
    const statement = statements[s.statement];
    if (statement === undefined)
      throw new RecordFormatError(
        `block share ${i} points at statement ${s.statement}; the block carries ${statements.length}`,
      );
    return { payload: s.payload, statement };
  });
  return {
    header: openHeader(signedHeader.payload),
    hash: sha256(signedHeader.payload),
    signedHeader,
    shares,
    receipts: message.receipts,
    statements,
    roster:
      message.roster == null ? { payload: new Uint8Array(0), signature: new Uint8Array(0) } : signed(message.roster),
  };
}
