import { hex } from '../crypto/hash.ts';
import { status } from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { canonicalJson, parseCanonicalJson, type CanonicalValue } from '../crypto/canonical-json.ts';
import type { KeyPair } from '../crypto/keys.ts';
import { recoverSigner, sign } from '../crypto/signature.ts';
import type { FraudProof } from '../proto/tessera/v1/FraudProof.ts';
import type { Ticket } from '../proto/tessera/v1/Ticket.ts';
import type { SignedCommitment } from './commitment.ts';
import { AuditError, type OpenedTicket } from './ticket.ts';

/**
 * The signed statements of the audit protocol, each canonical JSON under its own signature domain
 * (`tessera/v1/<kind>`), so one can never pass for another. Requests carry a timestamp and a nonce:
 * the registry refuses stale and replayed ones.
 */

export interface SignedStatement {
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

/** A shard file a verifier holds: it takes tickets whose every shard it holds. */
export interface HeldShardClaim {
  readonly modelId: string;
  readonly shardIndex: number;
  readonly shardSha256: string;
}

/** A verifier asks for tickets whose every shard it holds, for its engine version. */
export interface PullRequest {
  readonly kind: 'pull-tickets';
  readonly verifierId: string;
  readonly engineVersion: string;
  readonly shards: readonly HeldShardClaim[];
  readonly max: number;
  readonly timestampMs: number;
  readonly nonce: string;
}

/** A verifier reports the output hashes it recomputed, each equal to the committed one. */
export interface CompleteRequest {
  readonly kind: 'complete-tickets';
  readonly verifierId: string;
  readonly results: readonly { readonly ticketId: string; readonly outputHash: string }[];
  readonly timestampMs: number;
  readonly nonce: string;
}

export interface CommitmentJson {
  readonly nodeId: string;
  /** The span of shards [shardIndex, shardEnd) the node ran. */
  readonly shardIndex: number;
  readonly shardEnd: number;
  readonly stepId: string;
  readonly inputHash: string;
  readonly outputHash: string;
  readonly timestampMs: number;
  /** '' for a session opened without an audit commitment. */
  readonly auditCommitment: string;
  /** The last shard's result hash; absent on every other hop. */
  readonly resultHash?: string;
  /** A relay's hash of the signatures it relayed; absent on the last hop (and on relays' of before). */
  readonly relayedHash?: string;
  readonly signature: string;
}

/**
 * A client states that its revealed secret selected this commitment for audit, so the node owes a
 * ticket. Only the client knows the secret before the reveal.
 */
export interface AuditRequest {
  readonly kind: 'audit-request';
  readonly client: string;
  readonly commitment: CommitmentJson;
  readonly secret: string;
  readonly timestampMs: number;
  readonly nonce: string;
}

export type Request = PullRequest | CompleteRequest | AuditRequest;

/** Who signed a request: the verifier, or the client. */
export function signerOf(request: Request): string {
  return request.kind === 'audit-request' ? request.client : request.verifierId;
}

const domainOf = (kind: string) => `tessera/v1/${kind}`;
const isHex = (value: unknown, bytes: number) =>
  typeof value === 'string' && new RegExp(`^[0-9a-f]{${bytes * 2}}$`).test(value);
const isAddress = (value: unknown) => typeof value === 'string' && /^0x[0-9a-f]{40}$/.test(value);
const isCount = (value: unknown) => Number.isSafeInteger(value) && (value as number) >= 0;

export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

export function commitmentToJson(c: SignedCommitment): CommitmentJson {
  return {
    nodeId: c.nodeId,
    shardIndex: c.shardIndex,
    shardEnd: c.shardEnd,
    stepId: hex(c.stepId),
    inputHash: hex(c.inputHash),
    outputHash: hex(c.outputHash),
    timestampMs: c.timestampMs,
    auditCommitment: hex(c.auditCommitment),
    ...(c.resultHash?.length ? { resultHash: hex(c.resultHash) } : {}),
    ...(c.relayedHash?.length ? { relayedHash: hex(c.relayedHash) } : {}),
    signature: hex(c.signature),
  };
}

export function commitmentFromJson(c: CommitmentJson): SignedCommitment {
  return {
    nodeId: c.nodeId,
    shardIndex: c.shardIndex,
    shardEnd: c.shardEnd,
    stepId: Buffer.from(c.stepId, 'hex'),
    inputHash: Buffer.from(c.inputHash, 'hex'),
    outputHash: Buffer.from(c.outputHash, 'hex'),
    timestampMs: c.timestampMs,
    auditCommitment: Buffer.from(c.auditCommitment, 'hex'),
    ...(c.resultHash === undefined ? {} : { resultHash: Buffer.from(c.resultHash, 'hex') }),
    ...(c.relayedHash === undefined ? {} : { relayedHash: Buffer.from(c.relayedHash, 'hex') }),
    signature: Buffer.from(c.signature, 'hex'),
  };
}

export function signRequest(key: KeyPair, request: Request): SignedStatement {
  if (signerOf(request) !== key.address)
    throw new Error(`a ${request.kind} naming ${signerOf(request)} cannot be signed by ${key.address}`);
  const payload = canonicalJson(request as unknown as CanonicalValue);
  return { payload, signature: sign(key, domainOf(request.kind), payload) };
}

/**
 * Parses a signed request of the expected kind and checks that its named signer signed it.
 * Malformed: INVALID_ARGUMENT; wrong signer: UNAUTHENTICATED. Freshness is the registry's to check.
 */
export function openRequest<K extends Request['kind']>(
  kind: K,
  signed: SignedStatement,
): Extract<Request, { kind: K }> {
  let value: CanonicalValue;
  try {
    value = parseCanonicalJson(signed.payload);
  } catch (error) {
    throw new AuditError(
      status.INVALID_ARGUMENT,
      'STATEMENT_MALFORMED',
      `${kind} payload is not canonical JSON: ${(error as Error).message}`,
    );
  }
  const request = value as unknown as Request;
  if (typeof request !== 'object' || request === null || request.kind !== kind) {
    throw new AuditError(
      status.INVALID_ARGUMENT,
      'STATEMENT_MALFORMED',
      `expected a ${kind}, got ${JSON.stringify((request as { kind?: unknown } | null)?.kind ?? null)}`,
    );
  }
  const problems = requestProblems(request);
  if (problems.length > 0)
    throw new AuditError(status.INVALID_ARGUMENT, 'STATEMENT_MALFORMED', `malformed ${kind}: ${problems.join(', ')}`);
  const signer = recoverSigner(domainOf(kind), signed.payload, signed.signature);
  if (signer === undefined)
    throw new AuditError(status.UNAUTHENTICATED, 'STATEMENT_UNSIGNED', `${kind} signature is malformed`);
  if (signer !== signerOf(request))
    throw new AuditError(
      status.UNAUTHENTICATED,
      'STATEMENT_WRONG_SIGNER',
      `${kind} is signed by ${signer}, not by ${signerOf(request)}`,
    );
  return request as Extract<Request, { kind: K }>;
}

function requestProblems(r: Request): string[] {
  const problems: string[] = [];
  if (!isCount(r.timestampMs)) problems.push('timestampMs');
  if (!isHex(r.nonce, 16)) problems.push('nonce is not 16 hex bytes');
  switch (r.kind) {
    case 'pull-tickets':
      if (!isAddress(r.verifierId)) problems.push('verifierId is not a lowercase 0x address');
      if (typeof r.engineVersion !== 'string' || r.engineVersion === '') problems.push('engineVersion');
      if (!Number.isSafeInteger(r.max) || r.max < 1) problems.push('max must be a positive integer');
      if (
        !Array.isArray(r.shards) ||
        r.shards.some((s) => typeof s?.modelId !== 'string' || !isCount(s.shardIndex) || !isHex(s.shardSha256, 32))
      ) {
        problems.push('shards must be [{modelId, shardIndex, shardSha256}]');
      }
      break;
    case 'complete-tickets':
      if (!isAddress(r.verifierId)) problems.push('verifierId is not a lowercase 0x address');
      if (!Array.isArray(r.results) || r.results.some((x) => !isHex(x?.ticketId, 32) || !isHex(x.outputHash, 32))) {
        problems.push('results must be [{ticketId, outputHash}] of 32-byte hex');
      }
      break;
    case 'audit-request': {
      if (!isAddress(r.client)) problems.push('client is not a lowercase 0x address');
      if (!isHex(r.secret, 32)) problems.push('secret is not 32 hex bytes');
      const c = r.commitment;
      if (
        typeof c !== 'object' ||
        c === null ||
        !isAddress(c.nodeId) ||
        !isCount(c.shardIndex) ||
        !isCount(c.shardEnd) ||
        c.shardEnd <= c.shardIndex ||
        !isHex(c.stepId, 32) ||
        !isHex(c.inputHash, 32) ||
        !isHex(c.outputHash, 32) ||
        !isCount(c.timestampMs) ||
        !(c.auditCommitment === '' || isHex(c.auditCommitment, 32)) ||
        !(c.resultHash === undefined || isHex(c.resultHash, 32)) ||
        !(c.relayedHash === undefined || (isHex(c.relayedHash, 32) && c.resultHash === undefined)) ||
        !isHex(c.signature, 65)
      ) {
        problems.push(
          'commitment must be {nodeId, shardIndex, shardEnd (past shardIndex), stepId, inputHash, outputHash, timestampMs, auditCommitment, signature}, hashes and signature in hex',
        );
      }
      break;
    }
  }
  return problems;
}

// --- fraud proofs ---

const FRAUD_PROOF_DOMAIN = domainOf('fraud-proof');

/**
 * What a verifier signs: the ticket's bindings (its id, model, the span recomputed and its weights'
 * hash, engine, the accused and its committed hashes) and the output hash it recomputed instead.
 */
function fraudStatement(
  ticket: OpenedTicket,
  recomputed: Uint8Array,
  verifierId: string,
  timestampMs: number,
): Uint8Array {
  return canonicalJson({
    kind: 'fraud-proof',
    ticketId: ticket.ticketId,
    modelId: ticket.modelId,
    shardIndex: ticket.shardIndex,
    shardEnd: ticket.shardEnd,
    shardSha256: ticket.shardSha256,
    engineVersion: ticket.engineVersion,
    accused: ticket.commitment.nodeId,
    inputHash: hex(ticket.commitment.inputHash),
    committedOutputHash: hex(ticket.commitment.outputHash),
    recomputedOutputHash: hex(recomputed),
    verifierId,
    timestampMs,
  });
}

export function signFraudProof(
  key: KeyPair,
  wire: Ticket,
  ticket: OpenedTicket,
  recomputed: Uint8Array,
  timestampMs = Date.now(),
): FraudProof {
  return {
    ticket: wire,
    recomputedOutputHash: recomputed,
    verifierId: key.address,
    timestampMs,
    signature: sign(key, FRAUD_PROOF_DOMAIN, fraudStatement(ticket, recomputed, key.address, timestampMs)),
  };
}

/** Throws UNAUTHENTICATED unless the proof's verifier signed this statement over this (opened) ticket. */
export function checkFraudProofSignature(
  ticket: OpenedTicket,
  recomputed: Uint8Array,
  verifierId: string,
  timestampMs: number,
  signature: Uint8Array,
): void {
  const signer = recoverSigner(
    FRAUD_PROOF_DOMAIN,
    fraudStatement(ticket, recomputed, verifierId, timestampMs),
    signature,
  );
  if (signer !== verifierId)
    throw new AuditError(
      status.UNAUTHENTICATED,
      'PROOF_WRONG_SIGNER',
      `fraud proof is ${signer === undefined ? 'not validly signed' : `signed by ${signer}`}, not by verifier ${verifierId}`,
    );
}
