import { canonicalJson, type CanonicalValue } from '../crypto/canonical-json.ts';
import type { KeyPair } from '../crypto/keys.ts';
import { sign } from '../crypto/signature.ts';
import { isCount, isHex, openSignedPayload, type SignedPayload } from './signed-payload.ts';

/** A signature made for an announcement or an operator request can never pass for one of these. */
export const ASSIGN_SHARD_DOMAIN = 'tessera/v1/assign-shard';

/** What a joining node says of itself when it asks which shard to serve; signed by the key whose address is `nodeId`. */
export interface AssignShardRequest {
  readonly nodeId: string;
  readonly modelId: string;
  /** Memory the node can give the shard's weights and its KV cache together. */
  readonly freeBytes: number;
  /** The KV-cache budget it will run with (--cache-mb). */
  readonly kvBudgetBytes: number;
  /** Its speed tier (T1..T5), or "unmeasured" before it holds a layer to measure. */
  readonly tier: string;
  /** Shards it holds complete already (a restart): preferred where they serve the network as well. */
  readonly held: readonly number[];
  /**
   * The shard it serves now, when it asks whether to move (rebalancing); absent when it joins. It
   * moves only if that raises the network's weakest shard past the hysteresis and uncovers none.
   */
  readonly serving?: number;
  readonly timestampMs: number;
  /** 16 random bytes, hex: each request is accepted once. */
  readonly nonce: string;
}

const FIELDS = ['nodeId', 'modelId', 'freeBytes', 'kvBudgetBytes', 'tier', 'held', 'serving', 'timestampMs', 'nonce'];

export function signAssignShardRequest(key: KeyPair, request: AssignShardRequest): SignedPayload {
  const payload = canonicalJson(request as unknown as CanonicalValue);
  return { payload, signature: sign(key, ASSIGN_SHARD_DOMAIN, payload) };
}

/**
 * Parses a signed assignment request and recovers its signer; shape errors and a signer other than
 * `nodeId` are SignedPayloadErrors. Freshness (timestamp, nonce) is the registry's to check.
 */
export function openAssignShardRequest(signed: SignedPayload): AssignShardRequest {
  return openSignedPayload<AssignShardRequest>('assignment request', ASSIGN_SHARD_DOMAIN, signed, (r) => {
    const problems: string[] = [];
    if (typeof r.modelId !== 'string' || r.modelId === '' || r.modelId.length > 256) problems.push('modelId');
    if (!isCount(r.freeBytes)) problems.push('freeBytes is not a byte count');
    if (!isCount(r.kvBudgetBytes)) problems.push('kvBudgetBytes is not a byte count');
    if (typeof r.tier !== 'string' || !/^(T[1-5]|unmeasured)$/.test(r.tier))
      problems.push(`tier ${JSON.stringify(r.tier)} is not T1..T5 or "unmeasured"`);
    if (!Array.isArray(r.held) || r.held.length > 1024 || !r.held.every(isCount))
      problems.push('held is not a list of shard indices');
    if (r.serving !== undefined && !isCount(r.serving)) problems.push('serving is not a shard index');
    if (!isCount(r.timestampMs)) problems.push('timestampMs');
    if (!isHex(r.nonce, 16)) problems.push('nonce is not 16 hex bytes');
    const unknown = Object.keys(r).filter((k) => !FIELDS.includes(k));
    if (unknown.length > 0) problems.push(`unknown fields ${unknown.join(', ')}`);
    return problems;
  });
}
