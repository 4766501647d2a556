import { canonicalJson } from '../crypto/canonical-json.ts';
import { hex } from '../crypto/hash.ts';
import type { KeyPair } from '../crypto/keys.ts';
import { recoverSigner, sign } from '../crypto/signature.ts';
import type { Ticket } from '../proto/tessera/v1/Ticket.ts';
import type { CommitmentFields } from './commitment.ts';
import { ticketIdOf } from './ticket.ts';

const TICKET_DOMAIN = 'tessera/v1/audit-ticket';

/**
 * What a ticket's signature covers beyond its commitment (which names the step, its span, its input
 * and output): the ticket's own span is signed too, so that what the node queued is exactly the
 * layers it vouches for.
 */
export interface TicketStatementFields {
  readonly modelId: string;
  readonly shardIndex: number;
  readonly shardEnd: number;
  readonly shardSha256: string;
  readonly engineVersion: string;
  readonly commitment: CommitmentFields;
  readonly auditSecret: Uint8Array;
}

// The commitment alone is not enough: a client or a next hop holds it too, and could queue the
// node's steps (or steps no secret selected) to fill the node's queue.
function ticketStatement(t: TicketStatementFields): Uint8Array {
  return canonicalJson({
    kind: 'audit-ticket',
    ticketId: ticketIdOf(t.commitment),
    modelId: t.modelId,
    shardIndex: t.shardIndex,
    shardEnd: t.shardEnd,
    shardSha256: t.shardSha256,
    engineVersion: t.engineVersion,
    auditSecret: hex(t.auditSecret),
  });
}

/** The ticket with the secret that selects its step and the committing node's signature over both. */
export function signTicket(
  key: KeyPair,
  ticket: Ticket,
  commitment: CommitmentFields,
  auditSecret: Uint8Array,
): Ticket {
  const signature = sign(
    key,
    TICKET_DOMAIN,
    ticketStatement({
      modelId: ticket.modelId ?? '',
      shardIndex: ticket.shardIndex ?? 0,
      shardEnd: ticket.shardEnd ?? 0,
      shardSha256: ticket.shardSha256 ?? '',
      engineVersion: ticket.engineVersion ?? '',
      commitment,
      auditSecret,
    }),
  );
  return { ...ticket, auditSecret: Buffer.from(auditSecret), signature };
}

/** Who signed the ticket's statement, or undefined for a malformed signature. */
export function ticketSigner(fields: TicketStatementFields, signature: Uint8Array): string | undefined {
  return recoverSigner(TICKET_DOMAIN, ticketStatement(fields), signature);
}
