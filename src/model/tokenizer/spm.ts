import { MergeQueue } from './merge-queue.ts';
import type { TextModel } from './vocab-tokenizer.ts';

const SPACE_MARK = '\u2581'; // '▁'
const utf8 = new TextEncoder();

export interface SpmOptions {
  readonly tokens: readonly string[];
  readonly scores: ArrayLike<number>;
  readonly unknownId?: number;
  /** Put a space in front of the text and of every fragment after a special token (llama.cpp's default). */
  readonly addSpacePrefix: boolean;
}

/**
 * SentencePiece-style encoding as llama.cpp's llm_tokenizer_spm does it: spaces become '▁', the text
 * starts as one symbol per character, and the adjacent pair whose concatenation is the vocabulary entry
 * with the highest score merges first (leftmost on ties) until no pair is an entry. Characters left
 * outside the vocabulary fall back to their UTF-8 bytes as <0xNN> tokens.
 */
export class SpmModel implements TextModel {
  readonly prependsSpace: boolean;
  private readonly ids = new Map<string, number>();
  /** Rank of each id's score, 0 for the highest; equal scores share a rank so position breaks the tie. */
  private readonly scoreRank: Int32Array;
  private readonly byteIds: Int32Array;
  private readonly addSpacePrefix: boolean;

  constructor(options: SpmOptions) {
    const { tokens, scores } = options;
    this.addSpacePrefix = options.addSpacePrefix;
    this.prependsSpace = options.addSpacePrefix;
    tokens.forEach((text, id) => this.ids.set(text, id));
    this.scoreRank = rankScores(scores, tokens.length);

    this.byteIds = new Int32Array(256);
    for (let b = 0; b < 256; b++) {
      const hex = b.toString(16).toUpperCase().padStart(2, '0');
      const id =
        this.ids.get(`<0x${hex}>`) ??
        (b < 0x80 ? this.ids.get(String.fromCharCode(b)) : undefined) ??
        options.unknownId;
      this.byteIds[b] = id ?? -1;
    }
  }

  /** Every fragment gets the space prefix: llama.cpp adds it at the start and after each special token. */
  encodeFragment(fragment: string, _atStart: boolean, out: number[]): void {
    const text = ((this.addSpacePrefix ? ' ' : '') + fragment).replaceAll(' ', SPACE_MARK);
    const start: number[] = [];
    for (let i = 0; i < text.length;) {
      start.push(i);
      const unit = text.charCodeAt(i);
      const low = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      i += unit >= 0xd800 && unit <= 0xdbff && low >= 0xdc00 && low <= 0xdfff ? 2 : 1;
    }
    const n = start.length;
    if (n === 0) return;
    MergeQueue.checkLength(n);
    const end = new Int32Array(n);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      end[i] = i + 1 < n ? start[i + 1]! : text.length;
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }

    const queue = new MergeQueue();
    const rankOfPair = (left: number, right: number): number => {
      const id = this.ids.get(text.slice(start[left]!, end[right]!));
      return id === undefined ? -1 : this.scoreRank[id]!;
    };
    const offer = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      const rank = rankOfPair(left, right);
      if (rank >= 0) queue.push(rank, left);
    };
    for (let i = 0; i + 1 < n; i++) offer(i, i + 1);

    while (queue.size > 0) {
      const key = queue.pop();
      const left = MergeQueue.leftOf(key);
      if (!alive[left]) continue;
      const right = next[left]!;
      // Stale when the pair at this position has changed since it was queued.
      if (right < 0 || rankOfPair(left, right) !== MergeQueue.priorityOf(key)) continue;
      end[left] = end[right]!;
      alive[right] = 0;
      const after = next[right]!;
      next[left] = after;
      if (after >= 0) prev[after] = left;
      offer(prev[left]!, left);
      offer(left, after);
    }

    for (let i = 0; i >= 0; i = next[i]!) {
      const piece = text.slice(start[i]!, end[i]!);
      const id = this.ids.get(piece);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      for (const b of utf8.encode(piece)) {
        const byteId = this.byteIds[b]!;
        if (byteId < 0)
          throw new Error(
            `cannot encode byte 0x${b.toString(16)}: the vocabulary has no <0x..> token for it and no unknown token`,
          );
        out.push(byteId);
      }
    }
  }

  normalPieceBytes(text: string): Uint8Array {
    return utf8.encode(text.replaceAll(SPACE_MARK, ' '));
  }
}

function rankScores(scores: ArrayLike<number>, count: number): Int32Array {
  const order = Array.from({ length: count }, (_, id) => id);
  const score = (id: number) => scores[id] ?? 0;
  order.sort((a, b) => score(b) - score(a));
  const rank = new Int32Array(count);
  let current = 0;
  for (let i = 0; i < count; i++) {
    if (i > 0 && score(order[i]!) !== score(order[i - 1]!)) current = i;
    rank[order[i]!] = current;
  }
  return rank;
}
