import { createHash } from 'node:crypto';
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

const ADDRESS = /^0x[0-9a-f]{40}$/;
const HASH_BYTES = 32;

/**
 * The bytes a commitment's signature covers (under COMMITMENT_DOMAIN), in a fixed layout: node id
 * (20 bytes), shard index (u32), step id, input hash, output hash (32 bytes each), time (u64 ms),
 * then the audit commitment (32 bytes) or nothing. Every decode step of every hop signs one and the
 * client checks one: at 128 bytes, or 160 with an audit commitment, it takes two keccak blocks
 * with the domain, where canonical JSON took three, or four with an audit commitment. Throws a
 * RangeError for fields that do not fit the layout.
 */
export function commitmentMessage(c: CommitmentFields): Uint8Array {
  if (!ADDRESS.test(c.nodeId)) throw new RangeError(`node id ${c.nodeId} is not a lower-case 0x address`);
  if (!Number.isInteger(c.shardIndex) || c.shardIndex < 0 || c.shardIndex > 0xffffffff)
    throw new RangeError(`shard index ${c.shardIndex} is not a u32`);
  if (!Number.isSafeInteger(c.timestampMs) || c.timestampMs < 0)
    throw new RangeError(`time ${c.timestampMs} is not a whole number of ms since the epoch`);
  for (const field of ['stepId', 'inputHash', 'outputHash'] as const) {
    if (c[field].length !== HASH_BYTES)
      throw new RangeError(`${field} has ${c[field].length} bytes, not ${HASH_BYTES}`);
  }
  if (c.auditCommitment.length !== 0 && c.auditCommitment.length !== HASH_BYTES)
    throw new RangeError(`auditCommitment has ${c.auditCommitment.length} bytes, not ${HASH_BYTES} or none`);
  const message = Buffer.alloc(20 + 4 + 3 * HASH_BYTES + 8 + c.auditCommitment.length);
  message.write(c.nodeId.slice(2), 0, 'hex');
  message.writeUInt32BE(c.shardIndex, 20);
  message.set(c.stepId, 24);
  message.set(c.inputHash, 24 + HASH_BYTES);
  message.set(c.outputHash, 24 + 2 * HASH_BYTES);
  message.writeBigUInt64BE(BigInt(c.timestampMs), 24 + 3 * HASH_BYTES);
  message.set(c.auditCommitment, 32 + 3 * HASH_BYTES);
  return message;
}

const NO_AUDIT_COMMITMENT = Buffer.alloc(0);

/** Signs the fields as `key`'s node, stamped now unless they carry a time; no audit commitment unless given. */
export function signCommitment(
  key: KeyPair,
  fields: Omit<CommitmentFields, 'nodeId' | 'timestampMs' | 'auditCommitment'> & {
    readonly timestampMs?: number;
    readonly auditCommitment?: Uint8Array;
  },
): SignedCommitment {
  const full = {
    ...fields,
    nodeId: key.address,
    timestampMs: fields.timestampMs ?? Date.now(),
    auditCommitment: fields.auditCommitment ?? NO_AUDIT_COMMITMENT,
  };
  return { ...full, signature: sign(key, COMMITMENT_DOMAIN, commitmentMessage(full)) };
}

/** Whether the commitment is signed by the node it names (and its fields fit a signed message). */
export function verifyCommitment(c: SignedCommitment): boolean {
  let message: Uint8Array;
  try {
    message = commitmentMessage(c);
  } catch (error) {
    if (error instanceof RangeError) return false;
    throw error;
  }
  return recoverSigner(COMMITMENT_DOMAIN, message, c.signature) === c.nodeId;
}
