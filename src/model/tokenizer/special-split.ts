/** A vocabulary entry that is matched in the raw text as a whole, before any merging. */
export interface SpecialToken {
  readonly id: number;
  readonly text: string;
  /** User-defined tokens are matched even when special parsing is off; control and unknown ones are not. */
  readonly alwaysParsed: boolean;
  /** Whether whitespace before (lstrip) / after (rstrip) a match is dropped (Hugging Face added-token flags). */
  readonly lstrip?: boolean;
  readonly rstrip?: boolean;
}

/** Either text still to tokenize or the id of a special token found in it. */
export type Fragment = string | number;

const isSpace = (char: string | undefined): boolean => char !== undefined && /\s/.test(char);

/**
 * Cuts text at special tokens the way llama.cpp's tokenizer_st_partition does: longest token text first,
 * each one splitting every remaining text fragment at all its occurrences, left to right.
 */
export class SpecialTokenSplitter {
  private readonly specials: readonly SpecialToken[];

  constructor(specials: readonly SpecialToken[]) {
    this.specials = specials
      .filter((s) => s.text.length > 0)
      .sort((a, b) => b.text.length - a.text.length || a.id - b.id);
  }

  split(text: string, parseSpecial: boolean): Fragment[] {
    let fragments: Fragment[] = text.length > 0 ? [text] : [];
    for (const special of this.specials) {
      if (!parseSpecial && !special.alwaysParsed) continue;
      if (!text.includes(special.text)) continue;
      const next: Fragment[] = [];
      for (const fragment of fragments) {
        if (typeof fragment === 'number') next.push(fragment);
        else splitAt(fragment, special, next);
      }
      fragments = next;
    }
    return fragments;
  }
}

function splitAt(fragment: string, special: SpecialToken, out: Fragment[]): void {
  let start = 0;
  for (;;) {
    const match = fragment.indexOf(special.text, start);
    if (match < 0) break;
    let leftEnd = match;
    if (special.lstrip) while (leftEnd > start && isSpace(fragment[leftEnd - 1])) leftEnd--;
    if (leftEnd > start) out.push(fragment.slice(start, leftEnd));
    out.push(special.id);
    start = match + special.text.length;
    if (special.rstrip) while (start < fragment.length && isSpace(fragment[start])) start++;
  }
  if (start < fragment.length) out.push(fragment.slice(start));
}
