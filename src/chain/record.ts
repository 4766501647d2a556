import { hash } from 'node:crypto';
import { canonicalJson, type CanonicalValue } from '../crypto/canonical-json.ts';

/** A canonical-JSON payload and the 65-byte recoverable signature over it (the proto's Signed). */
export interface SignedRecord {
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** A payload that is not a well-formed record of its kind; `message` says which fields are wrong. */
export class RecordFormatError extends Error {}

export function sha256(bytes: Uint8Array): Buffer {
  return hash('sha256', bytes, 'buffer');
}

export const isHexBytes = (value: unknown, bytes: number): value is string => typeof value === 'string' && value.length === bytes * 2 && /^[0-9a-f]*$/.test(value);
export const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
export const isAddress = (value: unknown): value is string => typeof value === 'string' && /^0x[0-9a-f]{40}$/.test(value);

/**
 * The object a canonical-JSON payload holds, with exactly `keys` (and any of `optional`). Canonical bytes matter beyond
 * neatness: a record's identity is the hash of its bytes, so a second encoding of the same content
 * would be a second record (a replay that dodges duplicate detection).
 */
export function parseRecord(payload: Uint8Array, what: string, keys: readonly string[], optional: readonly string[] = []): Record<string, unknown> {
  // parseCanonicalJson's check, with a native comparison: this runs for every share a daemon takes.
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(payload));
  } catch (error) {
    throw new RecordFormatError(`${what} payload is not JSON: ${(error as Error).message}`);
  }
  let canonical: Uint8Array | undefined;
  try {
    canonical = canonicalJson(value as CanonicalValue);
  } catch {
    canonical = undefined;
  }
  if (canonical === undefined || !Buffer.from(canonical.buffer, canonical.byteOffset, canonical.length).equals(payload)) {
    throw new RecordFormatError(`${what} payload is not canonical JSON (sorted keys, no whitespace, integers only)`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RecordFormatError(`${what} payload is not a JSON object`);
  const record = value as Record<string, unknown>;
  const extra = Object.keys(record).filter((k) => !keys.includes(k) && !optional.includes(k));
  const missing = keys.filter((k) => !(k in record));
  if (extra.length > 0 || missing.length > 0) {
    throw new RecordFormatError(`${what} fields: ${[...missing.map((k) => `missing ${k}`), ...extra.map((k) => `unexpected ${k}`)].join(', ')}`);
  }
  return record;
}

/** Throws a RecordFormatError naming every field that failed its check. */
export function requireFields(what: string, checks: Record<string, boolean>): void {
  const bad = Object.entries(checks).filter(([, ok]) => !ok).map(([name]) => name);
  if (bad.length > 0) throw new RecordFormatError(`malformed ${what}: ${bad.join(', ')}`);
}
