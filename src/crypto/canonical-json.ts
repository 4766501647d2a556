/**
 * Canonical JSON: object keys sorted, no whitespace, integers only (no floats whose printing could
 * differ), strings as JSON.stringify writes them. Signed payloads travel as these exact bytes.
 */
export type CanonicalValue =
  string | number | boolean | null | readonly CanonicalValue[] | { readonly [key: string]: CanonicalValue };

function write(value: CanonicalValue): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error(`canonical JSON holds safe integers only, got ${value}`);
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map(write).join(',')}]`;
  const object = value as { readonly [key: string]: CanonicalValue };
  const keys = Object.keys(object)
    .filter((k) => object[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${write(object[k]!)}`).join(',')}}`;
}

export function canonicalJson(value: CanonicalValue): Uint8Array {
  return new TextEncoder().encode(write(value));
}

/** Parses bytes that must already be canonical: re-encoding them must give the same bytes. */
export function parseCanonicalJson(bytes: Uint8Array): CanonicalValue {
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  const value = JSON.parse(text) as CanonicalValue;
  const again = canonicalJson(value);
  if (again.length !== bytes.length || !again.every((b, i) => b === bytes[i]))
    throw new Error('payload is not canonical JSON');
  return value;
}
