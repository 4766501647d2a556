import { canonicalJson, type CanonicalValue } from '../crypto/canonical-json.ts';
import type { KeyPair } from '../crypto/keys.ts';
import { sign } from '../crypto/signature.ts';
import { isCount, isHex, openSignedPayload, type SignedPayload } from './signed-payload.ts';

/** What an operator may ask of its own bond and earnings (issue 4; docs/ARCHITECTURE.md §8). */
export const OPERATOR_ACTIONS = ['stake', 'unstake', 'withdraw', 'claim'] as const;
export type OperatorAction = (typeof OPERATOR_ACTIONS)[number];

/** A request about the signer's own account; signed by the key whose address is `nodeId`. */
export interface OperatorRequest {
  readonly action: OperatorAction;
  readonly nodeId: string;
  /**
   * Stake only: a positive integer in the smallest unit, as a decimal string (wei outgrow the safe
   * integers canonical JSON allows).
   */
  readonly amount?: string;
  readonly timestampMs: number;
  /** 16 random bytes, hex: each request is accepted once. */
  readonly nonce: string;
}

/**
 * Each action signs under a domain of its own, so a signature made for one (or for an
 * announcement) can never be presented as another.
 */
export function operatorDomain(action: OperatorAction): string {
  return `tessera/v1/operator/${action}`;
}

export function signOperatorRequest(key: KeyPair, request: OperatorRequest): SignedPayload {
  const payload = canonicalJson(request as unknown as CanonicalValue);
  return { payload, signature: sign(key, operatorDomain(request.action), payload) };
}

/** At most a uint256, as the escrow contract holds amounts. */
const AMOUNT = /^[1-9][0-9]{0,77}$/;

/**
 * Parses a signed request for `expected` and recovers its signer. Shape errors (an action other
 * than the call's, an amount where none belongs) and a signer other than `nodeId` are
 * SignedPayloadErrors; freshness (timestamp, nonce) is the registry's to check.
 */
export function openOperatorRequest(expected: OperatorAction, signed: SignedPayload): OperatorRequest {
  return openSignedPayload<OperatorRequest>(`${expected} request`, operatorDomain(expected), signed, (r) => {
    const problems: string[] = [];
    if (r.action !== expected) problems.push(`action ${JSON.stringify(r.action)} where this call takes "${expected}"`);
    if (expected === 'stake') {
      if (typeof r.amount !== 'string' || !AMOUNT.test(r.amount))
        problems.push(`amount must be a positive integer string, got ${JSON.stringify(r.amount)}`);
    } else if (r.amount !== undefined) problems.push(`amount belongs only to a stake request`);
    if (!isCount(r.timestampMs)) problems.push('timestampMs');
    if (!isHex(r.nonce, 16)) problems.push('nonce is not 16 hex bytes');
    const unknown = Object.keys(r).filter((k) => !['action', 'nodeId', 'amount', 'timestampMs', 'nonce'].includes(k));
    if (unknown.length > 0) problems.push(`unknown fields ${unknown.join(', ')}`);
    return problems;
  });
}
