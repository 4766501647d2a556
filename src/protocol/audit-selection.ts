import { createHash, randomBytes } from 'node:crypto';
import type { SignedCommitment } from './commitment.ts';

/**
 * Audit selection (docs/ARCHITECTURE.md §6): commit, then challenge. The client draws a secret per
 * session and sends only its hash at Open; nodes sign their commitments; then the client reveals the
 * secret, and step s of the span of shards [a, b) is audited iff
 * H(secret || stepId || a || b || signature) < rate · 2^256, where stepId = H(session || s)
 * (src/protocol/commitment.ts), a and b are u32 big-endian, and signature is r || s of the node's
 * signature of its commitment to the step, s in its lower half (canonicalSignature). Using the step
 * id rather than s lets a registry check a selection from the commitment alone, without learning the
 * session or the step.
 *
 * Each party is missing one input when it could still steer: the node signs before it knows the
 * secret, and the client, which knows its secret before it picks session ids and step numbers,
 * cannot know the node's signature until the step is committed (the signature is deterministic, but
 * only under the node's key). Without the signature a client could grind session ids offline until
 * every position-0 step of an honest node is selected, and fill that node's audit window.
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

/** What a draw reads of a node's signed commitment to a step (its span among it). */
export type DrawnStep = Pick<SignedCommitment, 'stepId' | 'shardIndex' | 'shardEnd' | 'signature'>;

/** The order of secp256k1's group: s and n − s sign the same message. */
const CURVE_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const HALF_ORDER = CURVE_ORDER >> 1n;
const SIGNATURE_BYTES = 65;

/**
 * r || s with s in its lower half: whoever holds a signature can flip s to n − s (and the recovery
 * bit), which would give a client two draws of each step to choose from. recoverSigner refuses the
 * high-s one, and both would draw the same anyway (the recovery byte is left out for that).
 */
function canonicalSignature(signature: Uint8Array): Buffer {
  if (signature.length !== SIGNATURE_BYTES)
    throw new RangeError(`the commitment's signature has ${signature.length} bytes, not ${SIGNATURE_BYTES}`);
  const rs = Buffer.from(signature.subarray(0, 64));
  const s = BigInt(`0x${rs.toString('hex', 32, 64)}`);
  if (s > HALF_ORDER) Buffer.from((CURVE_ORDER - s).toString(16).padStart(64, '0'), 'hex').copy(rs, 32);
  return rs;
}

/**
 * The draw of one committed step of one span, a 256-bit integer. Throws a RangeError for a
 * signature that is not 65 bytes, or a span whose ends are not u32 (check the commitment first).
 */
export function auditDraw(secret: Uint8Array, step: DrawnStep): bigint {
  const span = Buffer.alloc(8);
  span.writeUInt32BE(step.shardIndex, 0);
  span.writeUInt32BE(step.shardEnd, 4);
  const digest = createHash('sha256')
    .update(secret)
    .update(step.stepId)
    .update(span)
    .update(canonicalSignature(step.signature))
    .digest('hex');
  return BigInt(`0x${digest}`);
}

export function isAudited(secret: Uint8Array, step: DrawnStep, rate: number): boolean {
  return auditDraw(secret, step) < auditThreshold(rate);
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
