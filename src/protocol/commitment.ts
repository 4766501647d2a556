import { createHash } from 'node:crypto';
import type { KeyPair } from '../crypto/keys.ts';
import { recoverSigner, sign } from '../crypto/signature.ts';

/** v2: the message names a span of shards (v1 named one shard). */
export const COMMITMENT_DOMAIN = 'tessera/v2/commitment';
/**
 * The last shard's commitment also covers what it sampled: signed under its own domain, so that its
 * longer message can never be read as a commitment without a result (whose lengths overlap).
 */
export const RESULT_COMMITMENT_DOMAIN = 'tessera/v2/result-commitment';
/**
 * A relay's commitment (every hop but the last) also covers the signatures it relays of the hops
 * after it (relayedHash): the hop before it checks that one signature instead of all of them, and
 * a bad signature below is pinned on the relay that vouched for it. Its own domain, as for results.
 */
export const RELAY_COMMITMENT_DOMAIN = 'tessera/v3/relay-commitment';
/** Bytes of a commitment signature (r || s || recovery). */
export const SIGNATURE_BYTES = 65;

/** What a node commits to for one step of one session (the proto's Commitment without the signature). */
export interface CommitmentFields {
  readonly nodeId: string;
  /**
   * The span of the manifest's shards [shardIndex, shardEnd) the node ran for this step: its hop's in
   * the route (src/model/shards/span.ts). Signed: an audit recomputes exactly these layers.
   */
  readonly shardIndex: number;
  readonly shardEnd: number;
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
  /**
   * The last shard's only: resultHashOf the token it sampled and the logprobs it returns (32 bytes);
   * absent or empty on every other hop. Signed: a hop that relays the result cannot rewrite it.
   */
  readonly resultHash?: Uint8Array;
  /**
   * A relay's only: relayedHashOf the signatures of every later hop of the route for this step, as
   * it relayed them (32 bytes); absent on the last hop, and on commitments signed before relays
   * vouched for what they relay. Signed: the relay answers for every signature below it.
   */
  readonly relayedHash?: Uint8Array;
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

/** What the last shard returns for a step: the token it sampled, its logprob and the top alternatives. */
export interface SampledResult {
  readonly token: number;
  readonly logprob: number;
  readonly top: { readonly token: number; readonly logprob: number }[];
}

/** The sampling settings as the last shard applies them (the proto's Sampling, every field set). */
export interface SamplingFields {
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly minP: number;
  readonly repetitionPenalty: number;
  readonly seed: number;
  readonly logprobs: number;
}

/**
 * What the last shard sampled with, besides the logits: the position it sampled for, the session's
 * sampling settings and the history its repetition penalty saw. These reach it through the hops
 * before it (in Open and each Step), so the result hash covers them too: a hop that changed them
 * on the way down would change the token with no commitment noticing.
 */
export interface SamplingContext {
  readonly position: number;
  readonly sampling: SamplingFields;
  readonly history: readonly number[];
}

/**
 * sha256 of a sampled result and what it was sampled with, in a fixed layout, all little-endian:
 * token (u32), logprob (f32, as the wire carries it), the number of alternatives (u32), each
 * alternative's token (u32) and logprob (f32); then the position (u32), the sampling settings
 * (temperature f32, top_k u32, top_p f32, min_p f32, repetition_penalty f32, seed u64, logprobs u32)
 * and the history (count u32, then each token u32). Floats are hashed as f32 so the client, which
 * sends and receives them as f32, hashes the same bytes the node did.
 */
export function resultHashOf(result: SampledResult, context: SamplingContext): Buffer {
  const { sampling, history } = context;
  const bytes = Buffer.alloc(12 + 8 * result.top.length + 4 + 32 + 4 + 4 * history.length);
  let at = 0;
  const u32 = (value: number) => (at = bytes.writeUInt32LE(value, at));
  const f32 = (value: number) => (at = bytes.writeFloatLE(value, at));
  u32(result.token);
  f32(result.logprob);
  u32(result.top.length);
  for (const t of result.top) {
    u32(t.token);
    f32(t.logprob);
  }
  u32(context.position);
  f32(sampling.temperature);
  u32(sampling.topK);
  f32(sampling.topP);
  f32(sampling.minP);
  f32(sampling.repetitionPenalty);
  at = bytes.writeBigUInt64LE(BigInt(sampling.seed), at);
  u32(sampling.logprobs);
  u32(history.length);
  for (const token of history) u32(token);
  return createHash('sha256').update(bytes).digest();
}

/**
 * sha256 of the signatures a relay passes on (each hop's after it, in route order), joined. Each must
 * be SIGNATURE_BYTES long, so no other split of the same bytes hashes alike; undefined otherwise.
 */
export function relayedHashOf(signatures: readonly Uint8Array[]): Buffer | undefined {
  if (signatures.some((s) => s.length !== SIGNATURE_BYTES)) return undefined;
  const hash = createHash('sha256');
  for (const s of signatures) hash.update(s);
  return hash.digest();
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
 * The bytes a commitment's signature covers (under commitmentDomainOf), in a fixed layout: node id
 * (20 bytes), the span's first shard and its end (u32 each), step id, input hash, output hash (32
 * bytes each), time (u64 ms), then the audit commitment (32 bytes) or nothing, then the result hash
 * or the relayed hash (32 bytes; never both) or nothing. Every decode step of every hop signs one
 * and the client checks one: at 132 bytes, or 164 with an audit commitment, it takes two keccak
 * blocks with the domain, where canonical JSON took three, or four with an audit commitment. Throws
 * a RangeError for fields that do not fit the layout.
 */
export function commitmentMessage(c: CommitmentFields): Uint8Array {
  if (!ADDRESS.test(c.nodeId)) throw new RangeError(`node id ${c.nodeId} is not a lower-case 0x address`);
  if (!Number.isInteger(c.shardIndex) || c.shardIndex < 0 || c.shardIndex > 0xffffffff)
    throw new RangeError(`shard index ${c.shardIndex} is not a u32`);
  if (!Number.isInteger(c.shardEnd) || c.shardEnd <= c.shardIndex || c.shardEnd > 0xffffffff)
    throw new RangeError(`shard end ${c.shardEnd} is not a u32 past shard index ${c.shardIndex}`);
  if (!Number.isSafeInteger(c.timestampMs) || c.timestampMs < 0)
    throw new RangeError(`time ${c.timestampMs} is not a whole number of ms since the epoch`);
  for (const field of ['stepId', 'inputHash', 'outputHash'] as const) {
    if (c[field].length !== HASH_BYTES)
      throw new RangeError(`${field} has ${c[field].length} bytes, not ${HASH_BYTES}`);
  }
  if (c.auditCommitment.length !== 0 && c.auditCommitment.length !== HASH_BYTES)
    throw new RangeError(`auditCommitment has ${c.auditCommitment.length} bytes, not ${HASH_BYTES} or none`);
  const result = c.resultHash ?? NO_RESULT;
  if (result.length !== 0 && result.length !== HASH_BYTES)
    throw new RangeError(`resultHash has ${result.length} bytes, not ${HASH_BYTES} or none`);
  const relayed = c.relayedHash ?? NO_RESULT;
  if (relayed.length !== 0 && relayed.length !== HASH_BYTES)
    throw new RangeError(`relayedHash has ${relayed.length} bytes, not ${HASH_BYTES} or none`);
  if (result.length !== 0 && relayed.length !== 0)
    throw new RangeError('a commitment covers a result or relayed signatures, not both');
  const trailer = result.length !== 0 ? result : relayed;
  const message = Buffer.alloc(20 + 8 + 3 * HASH_BYTES + 8 + c.auditCommitment.length + trailer.length);
  message.write(c.nodeId.slice(2), 0, 'hex');
  message.writeUInt32BE(c.shardIndex, 20);
  message.writeUInt32BE(c.shardEnd, 24);
  message.set(c.stepId, 28);
  message.set(c.inputHash, 28 + HASH_BYTES);
  message.set(c.outputHash, 28 + 2 * HASH_BYTES);
  message.writeBigUInt64BE(BigInt(c.timestampMs), 28 + 3 * HASH_BYTES);
  message.set(c.auditCommitment, 36 + 3 * HASH_BYTES);
  message.set(trailer, 36 + 3 * HASH_BYTES + c.auditCommitment.length);
  return message;
}

const NO_AUDIT_COMMITMENT = Buffer.alloc(0);
const NO_RESULT = Buffer.alloc(0);

/** The domain a commitment is signed under: its own for one that covers a sampled result or relayed signatures. */
export const commitmentDomainOf = (c: CommitmentFields): string =>
  (c.resultHash?.length ?? 0) > 0
    ? RESULT_COMMITMENT_DOMAIN
    : (c.relayedHash?.length ?? 0) > 0
      ? RELAY_COMMITMENT_DOMAIN
      : COMMITMENT_DOMAIN;

/** What a node fills in of its commitment; the node id is its key's, the time now unless given. */
export type OwnCommitmentFields = Omit<CommitmentFields, 'nodeId' | 'timestampMs' | 'auditCommitment'> & {
  readonly timestampMs?: number;
  readonly auditCommitment?: Uint8Array;
};

/**
 * The commitment `key`'s node makes, not yet signed: a node sends these fields with a step's result
 * and their signature after it (proto/tessera/v1/node.proto, the rule above Node); a relay adds its
 * relayedHash only then, once the signatures below it have come.
 */
export function commitmentFieldsOf(key: KeyPair, fields: OwnCommitmentFields): CommitmentFields {
  return {
    ...fields,
    nodeId: key.address,
    timestampMs: fields.timestampMs ?? Date.now(),
    auditCommitment: fields.auditCommitment ?? NO_AUDIT_COMMITMENT,
  };
}

/** Signs fields made by commitmentFieldsOf with the same key. */
export function signCommitmentFields(key: KeyPair, fields: CommitmentFields): SignedCommitment {
  return { ...fields, signature: sign(key, commitmentDomainOf(fields), commitmentMessage(fields)) };
}

/**
 * Signs the fields as `key`'s node, stamped now unless they carry a time; no audit commitment and no
 * result unless given.
 */
export function signCommitment(key: KeyPair, fields: OwnCommitmentFields): SignedCommitment {
  return signCommitmentFields(key, commitmentFieldsOf(key, fields));
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
  return recoverSigner(commitmentDomainOf(c), message, c.signature) === c.nodeId;
}
