import { MergeQueue } from './merge-queue.ts';

/** Symbol ids stay below 2^22 so a pair of them packs into one exact integer map key. */
const ID_SPAN = 2 ** 22;

/**
 * Ranked BPE merges over symbol ids: the pair with the lowest rank merges first, the leftmost of equal
 * pairs first; this is both llama.cpp's llm_tokenizer_bpe and Hugging Face's BPE model.
 */
export class MergeRules {
  /** pair key -> rank * ID_SPAN + result id */
  private readonly rules = new Map<number, number>();

  /** Adds `left right -> result` at `rank`; a pair seen before keeps its first (lower) rank. */
  add(left: number, right: number, result: number, rank: number): void {
    for (const id of [left, right, result]) {
      if (!Number.isInteger(id) || id < 0 || id >= ID_SPAN)
        throw new Error(`symbol id ${id} is out of range for BPE merges`);
    }
    MergeQueue.checkPriority(rank);
    const key = left * ID_SPAN + right;
    if (!this.rules.has(key)) this.rules.set(key, rank * ID_SPAN + result);
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
    const rules = this.rules;
    const offer = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      const a = ids[left]!;
      const b = ids[right]!;
      if (a < 0 || b < 0) return;
      const rule = rules.get(a * ID_SPAN + b);
      if (rule !== undefined) queue.push(Math.floor(rule / ID_SPAN), left);
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
      const rule = rules.get(a * ID_SPAN + b);
      if (rule === undefined || Math.floor(rule / ID_SPAN) !== MergeQueue.priorityOf(key)) continue;
      ids[left] = rule % ID_SPAN;
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
}
