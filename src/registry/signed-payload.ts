import { parseCanonicalJson, type CanonicalValue } from '../crypto/canonical-json.ts';
import { recoverSigner } from '../crypto/signature.ts';

/** A canonical-JSON payload and the 65-byte recoverable signature over it (proto `Signed`). */
export interface SignedPayload {
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

export class SignedPayloadError extends Error {
  /** `signature`: the payload is well formed but not signed by its nodeId's key. */
  constructor(
    message: string,
    readonly reason: 'malformed' | 'signature' = 'malformed',
  ) {
    super(message);
  }
}

export const isHex = (value: unknown, bytes: number): boolean =>
  typeof value === 'string' && new RegExp(`^[0-9a-f]{${bytes * 2}}$`).test(value);
export const isCount = (value: unknown): boolean => Number.isSafeInteger(value) && (value as number) >= 0;

/**
 * Parses a payload a node signed about itself (an announcement, an operator request) and recovers
 * its signer under `domain`. `problemsOf` lists what is wrong with the fields other than `nodeId`;
 * shape errors and a signer other than `nodeId` are SignedPayloadErrors. Freshness (timestamp,
 * nonce) is the registry's to check (admission.ts).
 */
export function openSignedPayload<T extends { readonly nodeId: string }>(
  what: string,
  domain: string,
  signed: SignedPayload,
  problemsOf: (value: Record<string, unknown>) => string[],
): T {
  let value: CanonicalValue;
  try {
    value = parseCanonicalJson(signed.payload);
  } catch (error) {
    throw new SignedPayloadError(`${what} payload is not canonical JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new SignedPayloadError(`malformed ${what}: not a JSON object`);
  const fields = value as Record<string, unknown>;
  const problems = [
    ...(typeof fields.nodeId !== 'string' || !/^0x[0-9a-f]{40}$/.test(fields.nodeId)
      ? ['nodeId is not a lowercase 0x address']
      : []),
    ...problemsOf(fields),
  ];
  if (problems.length > 0) throw new SignedPayloadError(`malformed ${what}: ${problems.join(', ')}`);
  const signer = recoverSigner(domain, signed.payload, signed.signature);
  if (signer === undefined) throw new SignedPayloadError(`${what} signature is malformed`, 'signature');
  if (signer !== fields.nodeId)
    throw new SignedPayloadError(`${what} is signed by ${signer}, not by node ${fields.nodeId}`, 'signature');
  return fields as unknown as T;
}
