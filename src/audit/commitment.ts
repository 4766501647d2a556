import { createHash } from 'node:crypto';
import { canonicalJson } from '../crypto/canonical-json.ts';
import type { KeyPair } from '../crypto/keys.ts';
import { recoverSigner, sign } from '../crypto/signature.ts';

export const COMMITMENT_DOMAIN = 'tessera/v1/commitment';

/** What a node commits to for one step of one session (the proto's Commitment without the signature). */
export interface CommitmentFields {
  readonly nodeId: string;
  readonly shardIndex: number;
  /** sha256(session id || step): names the step without naming the session. */
  readonly stepId: Uint8Array;
  readonly inputHash: Uint8Array;
  readonly outputHash: Uint8Array;
  /**
   * When the node committed (its clock, ms since the epoch). Signed: it bounds how long the node
   * owes a ticket for the step (audit.requestWindowMs at the registry), so it must not be movable.
   */
  readonly timestampMs: number;
  /**
   * The session's audit commitment (sha256 of the client's audit secret, 32 bytes), or empty when
   * the session was opened without one. Signed: only the secret it commits to can select the step.
   */
  readonly auditCommitment: Uint8Array;
}

export interface SignedCommitment extends CommitmentFields {
  readonly signature: Uint8Array;
}

/**
 * How far a commitment's time may be from the client's clock before the client refuses it (a hop
 * failure): twice the cluster's default maxClockSkewMs, as the node and the client may each be that
 * far from the registry. It bounds how far a node can backdate a commitment to shorten the time a
 * client has to request its audit (see audit.requestWindowMs in src/registry/cluster-config.ts).
 */
export const COMMITMENT_CLOCK_TOLERANCE_MS = 60_000;

export function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/** sha256(utf8(sessionId) || step as u64 big-endian). */
export function stepIdOf(sessionId: string, step: number): Buffer {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  return createHash('sha256').update(sessionId, 'utf8').update(counter).digest();
}

/** Token ids as the bytes a commitment hashes: u32 little-endian each. */
export function tokenBytes(tokens: readonly number[]): Buffer {
  const bytes = Buffer.alloc(tokens.length * 4);
  tokens.forEach((token, i) => bytes.writeUInt32LE(token, i * 4));
  return bytes;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** The canonical bytes a commitment's signature covers (under COMMITMENT_DOMAIN). */
export function commitmentMessage(c: CommitmentFields): Uint8Array {
  return canonicalJson({
    nodeId: c.nodeId, shardIndex: c.shardIndex, stepId: hex(c.stepId), inputHash: hex(c.inputHash), outputHash: hex(c.outputHash), timestampMs: c.timestampMs,
    auditCommitment: hex(c.auditCommitment),
  });
}

const NO_AUDIT_COMMITMENT = Buffer.alloc(0);

/** Signs the fields as `key`'s node, stamped now unless they carry a time; no audit commitment unless given. */
export function signCommitment(
  key: KeyPair,
  fields: Omit<CommitmentFields, 'nodeId' | 'timestampMs' | 'auditCommitment'> & { readonly timestampMs?: number; readonly auditCommitment?: Uint8Array },
): SignedCommitment {
  const full = { ...fields, nodeId: key.address, timestampMs: fields.timestampMs ?? Date.now(), auditCommitment: fields.auditCommitment ?? NO_AUDIT_COMMITMENT };
  return { ...full, signature: sign(key, COMMITMENT_DOMAIN, commitmentMessage(full)) };
}

/** Whether the commitment is signed by the node it names. */
export function verifyCommitment(c: SignedCommitment): boolean {
  // No signed message holds another time (and canonical JSON refuses it).
  if (!Number.isSafeInteger(c.timestampMs) || c.timestampMs < 0) return false;
  if (c.auditCommitment.length !== 0 && c.auditCommitment.length !== 32) return false;
  return recoverSigner(COMMITMENT_DOMAIN, commitmentMessage(c), c.signature) === c.nodeId;
}
