/** Slots per entry at least: probes stay short. */
const MIN_SLOTS_PER_ENTRY = 2;
/** A slot holding this holds no entry (slots hold id + 1). */
const FREE = 0;

/**
 * Vocabulary text -> id, as one Int32Array over the token strings themselves. A 150k-entry vocabulary
 * loads with about 150k merge rules whose two sides are looked up by text: `findRange` looks a part of
 * a rule up in place, with no substring to allocate and hash, and the table is a few MiB of one array
 * instead of a Map's entries. A text listed twice maps to its last id, as Map.set would leave it.
 */
export class VocabIndex {
  private readonly slots: Int32Array;
  private readonly mask: number;
  /** Whether some text is listed under more than one id. */
  readonly hasRepeats: boolean;

  constructor(private readonly tokens: readonly string[]) {
    let size = 16;
    while (size < tokens.length * MIN_SLOTS_PER_ENTRY) size *= 2;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    let repeats = false;
    for (let id = 0; id < tokens.length; id++) {
      const text = tokens[id]!;
      const slot = this.slotOf(text, 0, text.length);
      if (this.slots[slot] !== FREE) repeats = true;
      this.slots[slot] = id + 1;
    }
    this.hasRepeats = repeats;
  }

  get(text: string): number | undefined {
    return this.findRange(text, 0, text.length);
  }

  /** The id of `text.slice(start, end)`, without making that string. */
  findRange(text: string, start: number, end: number): number | undefined {
    const stored = this.slots[this.slotOf(text, start, end)]!;
    return stored === FREE ? undefined : stored - 1;
  }

  /** The slot holding the text, or the free slot where it would go. */
  private slotOf(text: string, start: number, end: number): number {
    // FNV-1a over UTF-16 code units, then a final mix so the low bits (the slot) depend on every unit.
    let hash = 0x811c9dc5;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
    hash ^= hash >>> 16;
    hash = Math.imul(hash, 0x45d9f3b);
    hash ^= hash >>> 16;
    const length = end - start;
    for (let slot = hash & this.mask; ; slot = (slot + 1) & this.mask) {
      const stored = this.slots[slot]!;
      if (stored === FREE) return slot;
      const candidate = this.tokens[stored - 1]!;
      if (candidate.length === length && sameUnits(candidate, text, start)) return slot;
    }
  }
}

function sameUnits(candidate: string, text: string, start: number): boolean {
  for (let i = 0; i < candidate.length; i++) if (candidate.charCodeAt(i) !== text.charCodeAt(start + i)) return false;
  return true;
}
