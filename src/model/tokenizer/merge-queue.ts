/**
 * The work queue of the merge loops: candidate merges keyed by (priority, left symbol index), smallest
 * first. Both parts are packed into one number so the heap compares plain numbers; the left index
 * breaks ties, which makes the leftmost of equally good merges go first, as llama.cpp and Hugging Face do.
 */

/** Room for the left symbol index: fragments up to 2^26 characters (64 Mi). */
const POSITION_SPAN = 2 ** 26;
/** Priorities below 2^26 keep every packed key an exact integer below 2^52. */
const PRIORITY_SPAN = 2 ** 26;

export class MergeQueue {
  private readonly heap: number[] = [];

  get size(): number {
    return this.heap.length;
  }

  static checkLength(symbols: number): void {
    if (symbols >= POSITION_SPAN)
      throw new Error(`text fragment of ${symbols} characters is too long to tokenize in one piece`);
  }

  static checkPriority(priority: number): void {
    if (priority >= PRIORITY_SPAN) throw new Error(`merge priority ${priority} is out of range`);
  }

  push(priority: number, left: number): void {
    const heap = this.heap;
    let i = heap.length;
    const key = priority * POSITION_SPAN + left;
    heap.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]! <= key) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = key;
  }

  /** Removes the smallest key; read it back with priorityOf / leftOf. */
  pop(): number {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    const n = heap.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && heap[child + 1]! < heap[child]!) child++;
        if (heap[child]! >= last) break;
        heap[i] = heap[child]!;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }

  static priorityOf(key: number): number {
    return Math.floor(key / POSITION_SPAN);
  }

  static leftOf(key: number): number {
    return key % POSITION_SPAN;
  }
}
