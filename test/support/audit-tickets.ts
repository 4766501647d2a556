// Tickets as an honest node makes them: a step its session's secret selects, signed by the node.
import { randomBytes } from 'node:crypto';
import type { KeyPair } from '../../src/crypto/keys.ts';
import { auditCommitmentOf, isAudited } from '../../src/protocol/audit-selection.ts';
import { signCommitment, type CommitmentFields, type SignedCommitment } from '../../src/protocol/commitment.ts';
import { signTicket } from '../../src/protocol/ticket-signature.ts';
import type { Ticket } from '../../src/proto/tessera/v1/Ticket.ts';

/** What a test's node commits to, besides the step id, its time and the audit commitment. */
export type StepFields = Omit<Parameters<typeof signCommitment>[1], 'stepId' | 'auditCommitment'>;

/**
 * `key`'s signed commitment to a fresh step that `secret` selects (or, with `selected` false, does
 * not) at `rate`: the draw covers the node's signature, so the test signs in the loop, as only the
 * node can. Bound to `secret` unless `bound` is false (a session opened without an audit commitment).
 */
export function committedStep(
  key: KeyPair,
  secret: Uint8Array,
  fields: StepFields,
  rate: number,
  options: { readonly selected?: boolean; readonly bound?: boolean } = {},
): SignedCommitment {
  const auditCommitment = options.bound === false ? {} : { auditCommitment: auditCommitmentOf(secret) };
  for (;;) {
    const commitment = signCommitment(key, { ...fields, stepId: randomBytes(32), ...auditCommitment });
    if (isAudited(secret, commitment, rate) === (options.selected ?? true)) return commitment;
  }
}

/** A fresh secret and `key`'s commitment, bound to it, to a step it selects at `rate`. */
export function selectedStep(
  key: KeyPair,
  fields: StepFields,
  rate: number,
): { secret: Buffer; commitment: SignedCommitment } {
  const secret = randomBytes(32);
  return { secret, commitment: committedStep(key, secret, fields, rate) };
}

/** The node's signed ticket, as src/node/node-audits.ts sends it. */
export function nodeSigned(key: KeyPair, ticket: Ticket, commitment: CommitmentFields, secret: Uint8Array): Ticket {
  return signTicket(key, ticket, commitment, secret);
}
