import { canonicalJson, parseCanonicalJson, type CanonicalValue } from '../crypto/canonical-json.ts';
import { sha256, hex } from '../crypto/hash.ts';
import type { KeyPair } from '../crypto/keys.ts';
import { recoverSigner, sign } from '../crypto/signature.ts';
import type { GrantAmounts, Hash32 } from './settlement-backend.ts';
import { isCount, isHex, SignedPayloadError, type SignedPayload } from './signed-payload.ts';

/**
 * What the cluster operator credits on the registry's ledger (issue 14): stake to a member, a
 * deposit to a client. The ledger holds no money, so this signed record is the only way value
 * enters it besides earnings; the registry accepts it only from a key in the cluster config's
 * operatorKeys.
 */
export interface OperatorGrant {
  /** The signer: an operator key's address. */
  readonly operator: string;
  /** Who is credited (a node, daemon, verifier or client id). */
  readonly to: string;
  /** Positive integers in the smallest unit, as decimal strings (wei outgrow safe integers); at least one. */
  readonly stake?: string;
  readonly deposit?: string;
  readonly timestampMs: number;
  /** 16 random bytes, hex: each grant is accepted once. */
  readonly nonce: string;
}

export const GRANT_DOMAIN = 'tessera/v1/operator/grant';

export function signGrant(key: KeyPair, grant: OperatorGrant): SignedPayload {
  const payload = canonicalJson(grant as unknown as CanonicalValue);
  return { payload, signature: sign(key, GRANT_DOMAIN, payload) };
}

/** At most a uint256, as the escrow contract holds amounts. */
const AMOUNT = /^[1-9][0-9]{0,77}$/;
const ADDRESS = /^0x[0-9a-f]{40}$/;
const FIELDS = ['operator', 'to', 'stake', 'deposit', 'timestampMs', 'nonce'];

/**
 * Parses a signed grant and recovers its signer, which must be `operator`; whether that key is one
 * of the cluster's operators, and freshness (timestamp, nonce), are the registry's to check.
 */
export function openGrant(signed: SignedPayload): OperatorGrant {
  let value: CanonicalValue;
  try {
    value = parseCanonicalJson(signed.payload);
  } catch (error) {
    throw new SignedPayloadError(`grant payload is not canonical JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new SignedPayloadError('malformed grant: not a JSON object');
  const g = value as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof g.operator !== 'string' || !ADDRESS.test(g.operator))
    problems.push('operator is not a lowercase 0x address');
  if (typeof g.to !== 'string' || !ADDRESS.test(g.to)) problems.push('to is not a lowercase 0x address');
  for (const field of ['stake', 'deposit'] as const) {
    if (g[field] !== undefined && (typeof g[field] !== 'string' || !AMOUNT.test(g[field])))
      problems.push(`${field} must be a positive integer string, got ${JSON.stringify(g[field])}`);
  }
  if (g.stake === undefined && g.deposit === undefined) problems.push('a grant credits stake, deposit or both');
  if (!isCount(g.timestampMs)) problems.push('timestampMs');
  if (!isHex(g.nonce, 16)) problems.push('nonce is not 16 hex bytes');
  const unknown = Object.keys(g).filter((k) => !FIELDS.includes(k));
  if (unknown.length > 0) problems.push(`unknown fields ${unknown.join(', ')}`);
  if (problems.length > 0) throw new SignedPayloadError(`malformed grant: ${problems.join(', ')}`);
  const signer = recoverSigner(GRANT_DOMAIN, signed.payload, signed.signature);
  if (signer === undefined) throw new SignedPayloadError('grant signature is malformed', 'signature');
  if (signer !== g.operator)
    throw new SignedPayloadError(`grant is signed by ${signer}, not by operator ${g.operator}`, 'signature');
  return g as unknown as OperatorGrant;
}

export function grantAmounts(grant: OperatorGrant): GrantAmounts {
  return {
    ...(grant.stake === undefined ? {} : { stake: BigInt(grant.stake) }),
    ...(grant.deposit === undefined ? {} : { deposit: BigInt(grant.deposit) }),
  };
}

/** What the ledger records the grant by, so that it credits once whatever happens to the nonce cache. */
export function grantEvidence(signed: SignedPayload): Hash32 {
  return `0x${hex(sha256(signed.payload))}`;
}
