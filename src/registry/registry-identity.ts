import { canonicalJson, parseCanonicalJson } from '../crypto/canonical-json.ts';
import type { KeyPair } from '../crypto/keys.ts';
import { recoverSigner, sign } from '../crypto/signature.ts';
import type { SignedPayload } from './signed-payload.ts';

export const REGISTRY_IDENTITY_DOMAIN = 'tessera/v1/registry-identity';

/** What a registry says of itself in gossip: signed by its key, which the cluster config lists. */
export interface RegistryIdentity {
  readonly registryId: string;
  readonly clusterId: string;
  readonly endpoint: string;
}

export function signRegistryIdentity(key: KeyPair, clusterId: string, endpoint: string): SignedPayload {
  const identity: RegistryIdentity = { registryId: key.address, clusterId, endpoint };
  const payload = canonicalJson({ ...identity });
  return { payload, signature: sign(key, REGISTRY_IDENTITY_DOMAIN, payload) };
}

/**
 * Whether `signed` vouches for a registry of `clusterId` at `endpoint`, signed by one of
 * `registryKeys` (lowercase addresses). The identity names its endpoint, so a copy passed on by
 * anyone vouches only for that registry, never for the endpoint of whoever passes it on.
 */
export function vouchesFor(
  signed: SignedPayload | null | undefined,
  endpoint: string,
  clusterId: string,
  registryKeys: ReadonlySet<string>,
): boolean {
  if (signed === null || signed === undefined || signed.payload.length === 0 || signed.payload.length > 1024)
    return false;
  let value;
  try {
    value = parseCanonicalJson(signed.payload) as unknown as Partial<RegistryIdentity> | null;
  } catch {
    return false;
  }
  if (value === null || typeof value !== 'object') return false;
  if (value.endpoint !== endpoint || value.clusterId !== clusterId || typeof value.registryId !== 'string')
    return false;
  if (!registryKeys.has(value.registryId)) return false;
  return recoverSigner(REGISTRY_IDENTITY_DOMAIN, signed.payload, signed.signature) === value.registryId;
}
