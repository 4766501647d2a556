/** GGUF metadata value types, as numbered by the GGUF specification. */
export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

/** The items of an array of fixed-width numbers (booleans as 0 and 1), as the reader returns them. */
export type GgufPackedItems =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array;

export interface GgufArray {
  readonly itemType: number;
  /**
   * Strings as a JS array; fixed-width items packed, as the reader returns them: a JS array costs 8
   * bytes an item, so a header of one-byte items would cost eight times its size in memory.
   */
  readonly items: readonly GgufValue[] | GgufPackedItems;
}

export type GgufValue = number | bigint | boolean | string | GgufArray;

export function isGgufArray(value: GgufValue | undefined): value is GgufArray {
  return typeof value === 'object' && value !== null && 'items' in value;
}

/** An array's items as JS values (booleans as booleans), copying packed items. */
export function arrayItems(array: GgufArray): readonly GgufValue[] {
  const { items } = array;
  if (Array.isArray(items)) return items as readonly GgufValue[];
  if (array.itemType === GgufValueType.BOOL) return Array.from(items as Uint8Array, (item) => item !== 0);
  return Array.from(items as ArrayLike<number | bigint>);
}

/** Typed accessors over a metadata map that name the key and the file when a value is missing or wrong. */
export class MetadataView {
  constructor(
    private readonly metadata: ReadonlyMap<string, GgufValue>,
    private readonly source: string,
  ) {}

  has(key: string): boolean {
    return this.metadata.has(key);
  }

  number(key: string): number;
  number(key: string, fallback: number): number;
  number(key: string, fallback?: number): number {
    const value = this.metadata.get(key);
    if (value === undefined && fallback !== undefined) return fallback;
    if (typeof value === 'number') return value;
    if (typeof value === 'bigint') return Number(value);
    throw new Error(`${this.source}: metadata ${key} ${value === undefined ? 'is missing' : 'is not a number'}`);
  }

  string(key: string): string;
  string(key: string, fallback: string): string;
  string(key: string, fallback?: string): string {
    const value = this.metadata.get(key);
    if (value === undefined && fallback !== undefined) return fallback;
    if (typeof value === 'string') return value;
    throw new Error(`${this.source}: metadata ${key} ${value === undefined ? 'is missing' : 'is not a string'}`);
  }

  bool(key: string, fallback: boolean): boolean {
    const value = this.metadata.get(key);
    return typeof value === 'boolean' ? value : fallback;
  }

  optionalNumber(key: string): number | undefined {
    const value = this.metadata.get(key);
    return typeof value === 'number' ? value : typeof value === 'bigint' ? Number(value) : undefined;
  }

  optionalString(key: string): string | undefined {
    const value = this.metadata.get(key);
    return typeof value === 'string' ? value : undefined;
  }

  array(key: string): readonly GgufValue[] | undefined {
    const value = this.metadata.get(key);
    return isGgufArray(value) ? arrayItems(value) : undefined;
  }
}
