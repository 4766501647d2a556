import { createHash, randomBytes } from 'node:crypto';

/**
 * Audit selection (docs/ARCHITECTURE.md §6): commit, then challenge. The client draws a secret per
 * session and sends only its hash at Open; nodes sign their commitments; then the client reveals the
 * secret, and step s of shard k is audited iff H(secret || stepId || k) < rate · 2^256, where
 * stepId = H(session || s) (src/protocol/commitment.ts). Using the step id rather than s lets a
 * registry check a selection from the commitment alone, without learning the session or the step.
 * A node cannot predict the draw when it commits, and an honest client cannot steer it (the hash
 * was fixed at Open).
 */

export const AUDIT_SECRET_BYTES = 32;
export const DEFAULT_SAMPLING_RATE = 0.05;

export function newAuditSecret(): Buffer {
  return randomBytes(AUDIT_SECRET_BYTES);
}

/** What the client sends at Open: sha256(secret). */
export function auditCommitmentOf(secret: Uint8Array): Buffer {
  return createHash('sha256').update(secret).digest();
}

/** Throws a RangeError naming `what` unless 0 <= rate <= 1. */
export function checkSamplingRate(rate: number, what = 'sampling rate'): number {
  if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1))
    throw new RangeError(`${what} must be a fraction from 0 to 1, got ${rate}`);
  return rate;
}

/** floor(rate · 2^256), exact for the 53 bits a double carries. */
export function auditThreshold(rate: number): bigint {
  checkSamplingRate(rate);
  if (rate === 1) return 1n << 256n;
  return BigInt(Math.floor(rate * 2 ** 53)) << 203n;
}

/** The draw of one step of one shard, a 256-bit integer. */
export function auditDraw(secret: Uint8Array, stepId: Uint8Array, shardIndex: number): bigint {
  const shard = Buffer.alloc(4);
  shard.writeUInt32BE(shardIndex);
  return BigInt(`0x${createHash('sha256').update(secret).update(stepId).update(shard).digest('hex')}`);
}

export function isAudited(secret: Uint8Array, stepId: Uint8Array, shardIndex: number, rate: number): boolean {
  return auditDraw(secret, stepId, shardIndex) < auditThreshold(rate);
}

/**
 * The chance that a node tampering with every one of k audited-eligible steps is caught at least
 * once: 1 − (1 − p)^k. A spot-check, not a proof of honest work: the words are "audited", never
 * "verified".
 */
export function detectionProbability(rate: number, tamperedSteps: number): number {
  return 1 - (1 - checkSamplingRate(rate)) ** tamperedSteps;
}

/**
 * Why `secret` cannot select a step under `commitment`, or undefined when it may: the node signed
 * the session's audit commitment into each step's commitment, so only the secret committed at Open
 * counts (and a session opened without one has nothing to audit). This is what lets a node drop, at
 * the reveal, every step the secret does not select.
 */
export function secretBindingProblem(
  commitment: { readonly auditCommitment: Uint8Array },
  secret: Uint8Array,
): string | undefined {
  if (commitment.auditCommitment.length === 0)
    return "the step's session was opened without an audit commitment, so none of its steps can be audited";
  if (!auditCommitmentOf(secret).equals(commitment.auditCommitment))
    return "the secret is not the one the session committed to at Open (its sha256 is not the commitment's auditCommitment)";
  return undefined;
}
