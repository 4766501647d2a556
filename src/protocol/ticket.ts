import { TesseraError } from '../core/errors.ts';
import { hex, sha256 } from '../crypto/hash.ts';
import { kindOfStatus } from '../rpc/status.ts';
import { status } from '@grpc/grpc-js';
import { promisify } from 'node:util';
import { deflate, inflate } from 'node:zlib';
import type { Manifest } from '../model/manifest.ts';
import {
  formatSpan,
  sameSpan,
  spanEntries,
  spanOf,
  spanProblem,
  spanSha256,
  type ShardSpan,
} from '../model/shards/span.ts';
import type { Commitment } from '../proto/tessera/v1/Commitment.ts';
import type { Commitment__Output } from '../proto/tessera/v1/Commitment.ts';
import type { Ticket, Ticket__Output } from '../proto/tessera/v1/Ticket.ts';
import { commitmentMessage, verifyCommitment, type CommitmentFields, type SignedCommitment } from './commitment.ts';

const deflateAsync = promisify(deflate);
const inflateAsync = promisify(inflate);

/** A refused audit call: its gRPC status is chosen where it is raised, its kind follows from that. */
export class AuditError extends TesseraError {
  constructor(
    readonly grpcStatus: status,
    code: string,
    message: string,
  ) {
    super(code, kindOfStatus(grpcStatus), message);
  }
}

export type HiddenDType = 'DTYPE_F32' | 'DTYPE_F16' | 'DTYPE_BF16';

export type TicketInputShape =
  | { readonly tokens: true; readonly positions: number }
  | { readonly tokens: false; readonly dtype: HiddenDType; readonly positions: number; readonly width: number };

/** A step's input exactly as its node received and hashed it. */
export type TicketInputBytes = TicketInputShape & { readonly bytes: Uint8Array };

/** What a ticket says: no session, user or prompt; a span from shard 0 takes token ids. */
export interface TicketContent {
  readonly modelId: string;
  /** The commitment's span of shards [shardIndex, shardEnd): the layers an audit recomputes. */
  readonly shardIndex: number;
  readonly shardEnd: number;
  /** spanSha256 of the span's weights (src/model/shards/span.ts): a one-shard span's is its file's. */
  readonly shardSha256: string;
  readonly engineVersion: string;
  readonly input: TicketInputBytes;
  readonly startPosition: number;
  readonly commitment: SignedCommitment;
}

export interface OpenedTicket extends TicketContent {
  readonly ticketId: string;
  /** The ticket's input as it travelled (compressed). */
  readonly compressedBytes: number;
}

/** A span as a message names it; one that is not a span (end not past start) is shown as sent. */
function describeSpan(span: ShardSpan): string {
  return span.end > span.start ? formatSpan(span) : `shards [${span.start}, ${span.end}), which is no span`;
}

const BYTES_PER_VALUE: Readonly<Record<HiddenDType, number>> = { DTYPE_F32: 4, DTYPE_F16: 2, DTYPE_BF16: 2 };

/**
 * A ticket is named by what its commitment signs, so one step of one node is queued once however
 * often (or by whom) it is submitted.
 */
export function ticketIdOf(commitment: CommitmentFields): string {
  return hex(sha256(commitmentMessage(commitment)));
}

export function commitmentToProto(c: SignedCommitment): Commitment {
  return {
    nodeId: c.nodeId,
    shardIndex: c.shardIndex,
    shardEnd: c.shardEnd,
    stepId: c.stepId,
    inputHash: c.inputHash,
    outputHash: c.outputHash,
    timestampMs: c.timestampMs,
    auditCommitment: c.auditCommitment,
    resultHash: c.resultHash ?? Buffer.alloc(0),
    relayedHash: c.relayedHash ?? Buffer.alloc(0),
    signature: c.signature,
  };
}

/** Checks field sizes; the signature is checked apart (it costs a key recovery). */
export function commitmentFromProto(c: Commitment__Output | null | undefined, what = 'commitment'): SignedCommitment {
  if (!c) throw new AuditError(status.INVALID_ARGUMENT, 'COMMITMENT_MALFORMED', `${what} is missing`);
  const problems: string[] = [];
  if (!/^0x[0-9a-f]{40}$/.test(c.nodeId)) problems.push('nodeId is not a lowercase 0x address');
  if (c.shardEnd <= c.shardIndex)
    problems.push(`shardEnd ${c.shardEnd} is not past shardIndex ${c.shardIndex} (a span needs at least one shard)`);
  for (const field of ['stepId', 'inputHash', 'outputHash'] as const)
    if (c[field].length !== 32) problems.push(`${field} has ${c[field].length} bytes, not 32`);
  if (c.signature.length !== 65) problems.push(`signature has ${c.signature.length} bytes, not 65`);
  if (!Number.isSafeInteger(c.timestampMs)) problems.push(`timestampMs ${c.timestampMs} is not a time in ms`);
  if (c.auditCommitment.length !== 0 && c.auditCommitment.length !== 32)
    problems.push(`auditCommitment has ${c.auditCommitment.length} bytes, not 32 or none`);
  if (c.resultHash.length !== 0 && c.resultHash.length !== 32)
    problems.push(`resultHash has ${c.resultHash.length} bytes, not 32 or none`);
  if (c.relayedHash.length !== 0 && c.relayedHash.length !== 32)
    problems.push(`relayedHash has ${c.relayedHash.length} bytes, not 32 or none`);
  if (c.resultHash.length !== 0 && c.relayedHash.length !== 0)
    problems.push('it has both a resultHash and a relayedHash (the last hop covers a result, a relay what it relayed)');
  if (problems.length > 0)
    throw new AuditError(status.INVALID_ARGUMENT, 'COMMITMENT_MALFORMED', `malformed ${what}: ${problems.join(', ')}`);
  return {
    nodeId: c.nodeId,
    shardIndex: c.shardIndex,
    shardEnd: c.shardEnd,
    stepId: c.stepId,
    inputHash: c.inputHash,
    outputHash: c.outputHash,
    timestampMs: c.timestampMs,
    auditCommitment: c.auditCommitment,
    resultHash: c.resultHash,
    relayedHash: c.relayedHash,
    signature: c.signature,
  };
}

/** The ticket as it travels: the input compressed (deflate; off the event loop). */
export async function encodeTicket(content: TicketContent): Promise<Ticket> {
  const { input } = content;
  return {
    modelId: content.modelId,
    shardIndex: content.shardIndex,
    shardEnd: content.shardEnd,
    shardSha256: content.shardSha256,
    engineVersion: content.engineVersion,
    input: {
      tokens: input.tokens,
      dtype: input.tokens ? 'DTYPE_UNSPECIFIED' : input.dtype,
      shape: input.tokens ? [input.positions] : [input.positions, input.width],
      compression: 'COMPRESSION_DEFLATE',
      data: await deflateAsync(input.bytes, { level: 1 }),
    },
    startPosition: content.startPosition,
    positions: input.positions,
    commitment: commitmentToProto(content.commitment),
  };
}

/**
 * A leased ticket as verifiers see it: the registry checked the node's signatures when it queued the
 * ticket and blanks them (and the audit secret), so that a canary, whose altered commitment no node
 * signed, looks like any other ticket. Its id stays ticketIdOf(commitment).
 */
export function blankedForLease(ticket: Ticket__Output): Ticket {
  return {
    ...ticket,
    commitment: { ...ticket.commitment!, signature: Buffer.alloc(65) },
    auditSecret: Buffer.alloc(0),
    signature: Buffer.alloc(0),
  };
}

/**
 * Checks a ticket on its own: its commitment is signed by the node it names (unless
 * `requireSignature` is false: a verifier's leased ticket, which the registry vouches for), it names
 * the span its commitment signs, it covers a step from position 0, and its input (inflated, at most
 * `maxInputBytes`) hashes to the commitment's input hash. What needs the model (the span, its hash,
 * sizes) is checkTicketAgainstManifest's.
 */
export async function openTicket(
  ticket: Ticket__Output,
  maxInputBytes: number,
  options: { readonly requireSignature?: boolean } = {},
): Promise<OpenedTicket> {
  const invalid = (message: string) => new AuditError(status.INVALID_ARGUMENT, 'TICKET_MALFORMED', message);
  const commitment = commitmentFromProto(ticket.commitment, "the ticket's commitment");
  if (!ticket.input) throw invalid('ticket has no input');
  if (ticket.modelId === '') throw invalid('ticket names no model');
  if (!/^[0-9a-f]{64}$/.test(ticket.shardSha256))
    throw invalid(`ticket's shard_sha256 "${ticket.shardSha256.slice(0, 80)}" is not 64 lowercase hex digits`);
  if (ticket.engineVersion === '') throw invalid('ticket names no engine version');
  // The commitment signs the span the node ran; a ticket naming other layers would have them recomputed instead.
  if (!sameSpan(spanOf(ticket), spanOf(commitment)))
    throw new AuditError(
      status.INVALID_ARGUMENT,
      'TICKET_SPAN_MISMATCH',
      `ticket is for ${describeSpan(spanOf(ticket))}, its commitment for ${formatSpan(spanOf(commitment))}: a ticket recomputes exactly the span its node signed`,
    );
  if (ticket.startPosition !== 0)
    throw invalid(
      `ticket's step starts at position ${ticket.startPosition}; only steps from position 0 are audited (a later one needs every earlier position's input)`,
    );
  if (options.requireSignature !== false && !verifyCommitment(commitment))
    throw new AuditError(
      status.UNAUTHENTICATED,
      'TICKET_UNSIGNED',
      `the ticket's commitment is not signed by node ${commitment.nodeId}`,
    );

  const { input: wire } = ticket;
  const positions = ticket.positions;
  if (positions < 1) throw invalid('ticket covers no positions');
  let input: TicketInputShape;
  if (wire.tokens) {
    if (wire.dtype !== 'DTYPE_UNSPECIFIED' || wire.shape.length !== 1 || wire.shape[0] !== positions) {
      throw invalid(
        `token input must have no dtype and shape [${positions}], got ${wire.dtype} [${wire.shape.join(', ')}]`,
      );
    }
    input = { tokens: true, positions };
  } else {
    const width = BYTES_PER_VALUE[wire.dtype as HiddenDType];
    if (width === undefined)
      throw invalid(`hidden input has dtype ${wire.dtype}; expected DTYPE_F32, DTYPE_F16 or DTYPE_BF16`);
    if (wire.shape.length !== 2 || wire.shape[0] !== positions || !(wire.shape[1]! > 0)) {
      throw invalid(`hidden input must have shape [${positions}, hidden], got [${wire.shape.join(', ')}]`);
    }
    input = { tokens: false, dtype: wire.dtype as HiddenDType, positions, width: wire.shape[1]! };
  }
  const expected = positions * (input.tokens ? 4 : input.width * BYTES_PER_VALUE[input.dtype]);
  if (expected > maxInputBytes)
    throw new AuditError(
      status.RESOURCE_EXHAUSTED,
      'TICKET_TOO_LARGE',
      `ticket input of ${expected} bytes exceeds the limit of ${maxInputBytes}`,
    );
  const bytes = await decompress(wire.compression, wire.data, expected);
  if (bytes.length !== expected) throw invalid(`ticket input holds ${bytes.length} bytes, its shape needs ${expected}`);
  const actual = sha256(bytes);
  if (!actual.equals(commitment.inputHash)) {
    throw new AuditError(
      status.INVALID_ARGUMENT,
      'TICKET_INPUT_MISMATCH',
      `ticket input hashes to ${actual.toString('hex')}, the commitment's input hash is ${hex(commitment.inputHash)}: it is not the input committed to`,
    );
  }
  return {
    modelId: ticket.modelId,
    shardIndex: ticket.shardIndex,
    shardEnd: ticket.shardEnd,
    shardSha256: ticket.shardSha256,
    engineVersion: ticket.engineVersion,
    input: { ...input, bytes },
    startPosition: 0,
    commitment,
    ticketId: ticketIdOf(commitment),
    compressedBytes: wire.data.length,
  };
}

async function decompress(compression: string, data: Buffer, expected: number): Promise<Buffer> {
  if (compression === 'COMPRESSION_NONE') return data;
  if (compression !== 'COMPRESSION_DEFLATE')
    throw new AuditError(
      status.INVALID_ARGUMENT,
      'TICKET_MALFORMED',
      `ticket input has unknown compression ${compression}`,
    );
  try {
    // One byte over the bound shows an oversized input without inflating all of it.
    return await inflateAsync(data, { maxOutputLength: expected + 1 });
  } catch (error) {
    throw new AuditError(
      status.INVALID_ARGUMENT,
      'TICKET_MALFORMED',
      `ticket input does not inflate to ${expected} bytes: ${(error as Error).message}`,
    );
  }
}

/**
 * Checks a ticket against the model it names: its span is one of the manifest's, its hash is the
 * span's, and the input's kind (token ids only from shard 0), width and token ids fit.
 */
export function checkTicketAgainstManifest(ticket: OpenedTicket, manifest: Manifest): void {
  const invalid = (message: string) => new AuditError(status.INVALID_ARGUMENT, 'TICKET_NOT_OF_MODEL', message);
  const span = spanOf(ticket);
  const problem = spanProblem(manifest, span);
  if (problem !== undefined) throw invalid(`the ticket's span is not of "${manifest.modelId}": ${problem}`);
  const named = formatSpan(span);
  const expected = spanSha256(manifest, span);
  if (ticket.shardSha256 !== expected) {
    throw invalid(
      `ticket names weights with SHA-256 ${ticket.shardSha256}; ${named} of "${manifest.modelId}" ${span.end - span.start === 1 ? 'has' : 'have'} ${expected}`,
    );
  }
  const first = spanEntries(manifest, span)[0]!;
  if (ticket.input.tokens !== first.embedding)
    throw invalid(
      `${named} ${first.embedding ? 'takes token ids' : 'takes hidden states'}, the ticket holds ${ticket.input.tokens ? 'token ids' : 'hidden states'}`,
    );
  if (!ticket.input.tokens && ticket.input.width !== manifest.config.hiddenSize) {
    throw invalid(`ticket input has hidden size ${ticket.input.width}, ${named} expects ${manifest.config.hiddenSize}`);
  }
  if (ticket.input.tokens) {
    const view = new DataView(ticket.input.bytes.buffer, ticket.input.bytes.byteOffset, ticket.input.bytes.byteLength);
    for (let i = 0; i < ticket.input.positions; i++) {
      const token = view.getUint32(i * 4, true);
      if (token >= manifest.config.vocabSize)
        throw invalid(`ticket input holds token id ${token}, beyond the vocabulary of ${manifest.config.vocabSize}`);
    }
  }
  if (ticket.input.positions > manifest.config.contextLength) {
    throw invalid(
      `ticket covers ${ticket.input.positions} positions, beyond the model's context of ${manifest.config.contextLength}`,
    );
  }
}
