import { MergeQueue } from './merge-queue.ts';

/** A symbol id this large means a corrupt vocabulary (4Mi entries): refused when the rule is added. */
const ID_SPAN = 2 ** 22;
/** A slot whose left id is this holds no rule (symbol ids are never negative). */
const EMPTY = -1;
/** Rules take at most half the slots, so a lookup ends after a few probes. */
const MIN_CAPACITY = 256;

/**
 * Ranked BPE merges over symbol ids: the pair with the lowest rank merges first, the leftmost of equal
 * pairs first; this is both llama.cpp's llm_tokenizer_bpe and Hugging Face's BPE model.
 *
 * The rules sit in an open-addressing table of four Int32Arrays rather than a Map: a large vocabulary
 * has about 150k of them, and as Map entries each pair key would be a boxed number to allocate, hash
 * and collect at load.
 */
export class MergeRules {
  private lefts: Int32Array;
  private rights: Int32Array;
  private ranks: Int32Array;
  private results: Int32Array;
  private count = 0;

  /** `expected`: about how many rules will be added, so the table is sized once. */
  constructor(expected = 0) {
    let capacity = MIN_CAPACITY;
    while (capacity < 2 * expected) capacity *= 2;
    this.lefts = new Int32Array(capacity).fill(EMPTY);
    this.rights = new Int32Array(capacity);
    this.ranks = new Int32Array(capacity);
    this.results = new Int32Array(capacity);
  }

  /** Adds `left right -> result` at `rank`; a pair seen before keeps its first (lower) rank. */
  add(left: number, right: number, result: number, rank: number): void {
    checkId(left);
    checkId(right);
    checkId(result);
    MergeQueue.checkPriority(rank);
    if (2 * (this.count + 1) > this.lefts.length) this.grow();
    const slot = this.slotOf(left, right);
    if (this.lefts[slot] !== EMPTY) return;
    this.lefts[slot] = left;
    this.rights[slot] = right;
    this.ranks[slot] = rank;
    this.results[slot] = result;
    this.count++;
  }

  /** Merges a word's symbol ids (negative ids never merge) and returns the final ids. */
  apply(symbols: readonly number[]): number[] {
    const n = symbols.length;
    if (n < 2) return symbols.slice();
    MergeQueue.checkLength(n);
    const ids = Int32Array.from(symbols);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const dead = -2;
    const queue = new MergeQueue();
    const { lefts, ranks, results } = this;
    const offer = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      const a = ids[left]!;
      const b = ids[right]!;
      if (a < 0 || b < 0) return;
      const slot = this.slotOf(a, b);
      if (lefts[slot] !== EMPTY) queue.push(ranks[slot]!, left);
    };
    for (let i = 0; i + 1 < n; i++) offer(i, i + 1);

    while (queue.size > 0) {
      const key = queue.pop();
      const left = MergeQueue.leftOf(key);
      const a = ids[left]!;
      if (a === dead) continue;
      const right = next[left]!;
      if (right < 0) continue;
      const b = ids[right]!;
      if (b < 0) continue;
      // A stale entry: this position's pair changed since it was queued (ranks are unique per pair).
      const slot = this.slotOf(a, b);
      if (lefts[slot] === EMPTY || ranks[slot] !== MergeQueue.priorityOf(key)) continue;
      ids[left] = results[slot]!;
      ids[right] = dead;
      const after = next[right]!;
      next[left] = after;
      if (after >= 0) prev[after] = left;
      offer(prev[left]!, left);
      offer(left, after);
    }

    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]!) out.push(ids[i]!);
    return out;
  }

  /** The slot holding the pair, or the empty slot where it would go. */
  private slotOf(left: number, right: number): number {
    const lefts = this.lefts;
    const rights = this.rights;
    const mask = lefts.length - 1;
    let slot = (Math.imul(left, 0x9e3779b1) ^ Math.imul(right + 0x7f4a7c15, 0x85ebca77)) >>> 0;
    slot = (slot ^ (slot >>> 15)) & mask;
    for (;;) {
      const stored = lefts[slot]!;
      if (stored === EMPTY || (stored === left && rights[slot] === right)) return slot;
      slot = (slot + 1) & mask;
    }
  }

  private grow(): void {
    const { lefts, rights, ranks, results } = this;
    const capacity = lefts.length * 2;
    this.lefts = new Int32Array(capacity).fill(EMPTY);
    this.rights = new Int32Array(capacity);
    this.ranks = new Int32Array(capacity);
    this.results = new Int32Array(capacity);
    for (let i = 0; i < lefts.length; i++) {
      if (lefts[i] === EMPTY) continue;
      const slot = this.slotOf(lefts[i]!, rights[i]!);
      this.lefts[slot] = lefts[i]!;
      this.rights[slot] = rights[i]!;
      this.ranks[slot] = ranks[i]!;
      this.results[slot] = results[i]!;
    }
  }
}

function checkId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= ID_SPAN)
    throw new Error(`symbol id ${id} is out of range for BPE merges`);
}
