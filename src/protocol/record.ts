/** A canonical-JSON payload and the 65-byte recoverable signature over it (the proto's Signed). */
export interface SignedRecord {
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** A payload that is not a well-formed record of its kind; `message` says which fields are wrong. */
export class RecordFormatError extends Error {}

export const isHexBytes = (value: unknown, bytes: number): value is string =>
  typeof value === 'string' && value.length === bytes * 2 && /^[0-9a-f]*$/.test(value);
export const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
export const isAddress = (value: unknown): value is string =>
  typeof value === 'string' && /^0x[0-9a-f]{40}$/.test(value);

/**
 * Whether JSON.stringify writes a parsed value as canonical JSON (crypto/canonical-json.ts): its
 * keys sorted and its numbers safe integers throughout. Then the payload is canonical exactly when
 * JSON.stringify gives back its text, a native comparison that is cheaper than re-encoding it.
 */
function stringifiesCanonically(value: unknown): boolean {
  if (typeof value === 'number') return Number.isSafeInteger(value);
  if (typeof value !== 'object' || value === null) return true;
  if (Array.isArray(value)) return value.every(stringifiesCanonically);
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object);
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! >= keys[i]!) return false;
  return keys.every((k) => stringifiesCanonically(object[k]));
}

/**
 * The object a canonical-JSON payload holds, with exactly `keys` (and any of `optional`). Canonical bytes matter beyond
 * neatness: a record's identity is the hash of its bytes, so a second encoding of the same content
 * would be a second record (a replay that dodges duplicate detection).
 */
export function parseRecord(
  payload: Uint8Array,
  what: string,
  keys: readonly string[],
  optional: readonly string[] = [],
): Record<string, unknown> {
  let text: string;
  let value: unknown;
  try {
    text = decoder.decode(payload);
    value = JSON.parse(text);
  } catch (error) {
    throw new RecordFormatError(`${what} payload is not JSON: ${(error as Error).message}`);
  }
  if (!stringifiesCanonically(value) || JSON.stringify(value) !== text) {
    throw new RecordFormatError(`${what} payload is not canonical JSON (sorted keys, no whitespace, integers only)`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new RecordFormatError(`${what} payload is not a JSON object`);
  const record = value as Record<string, unknown>;
  const extra = Object.keys(record).filter((k) => !keys.includes(k) && !optional.includes(k));
  const missing = keys.filter((k) => !(k in record));
  if (extra.length > 0 || missing.length > 0) {
    throw new RecordFormatError(
      `${what} fields: ${[...missing.map((k) => `missing ${k}`), ...extra.map((k) => `unexpected ${k}`)].join(', ')}`,
    );
  }
  return record;
}

/** Throws a RecordFormatError naming every field that failed its check. */
export function requireFields(what: string, checks: Record<string, boolean>): void {
  const bad = Object.entries(checks)
    .filter(([, ok]) => !ok)
    .map(([name]) => name);
  if (bad.length > 0) throw new RecordFormatError(`malformed ${what}: ${bad.join(', ')}`);
}
