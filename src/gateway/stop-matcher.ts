/**
 * Stop strings over streamed text. Text that could still be the start of a stop string is held
 * back until the next piece decides it, so a stop string never reaches the caller, even split
 * across tokens.
 */
export class StopMatcher {
  private held = '';
  stopped = false;

  constructor(private readonly stops: readonly string[]) {}

  /** Adds a piece of generated text; returns the text that may be shown now. */
  push(piece: string): string {
    if (this.stopped) return '';
    const text = this.held + piece;
    let cut = -1;
    for (const stop of this.stops) {
      const at = text.indexOf(stop);
      if (at !== -1 && (cut === -1 || at < cut)) cut = at;
    }
    if (cut !== -1) {
      this.stopped = true;
      this.held = '';
      return text.slice(0, cut);
    }
    const keep = this.partialSuffix(text);
    this.held = text.slice(text.length - keep);
    return text.slice(0, text.length - keep);
  }

  /** The text held back when generation ends without a stop string. */
  flush(): string {
    const rest = this.stopped ? '' : this.held;
    this.held = '';
    return rest;
  }

  /** Length of the longest end of `text` that is a proper prefix of some stop string. */
  private partialSuffix(text: string): number {
    let longest = 0;
    for (const stop of this.stops) {
      for (let n = Math.min(stop.length - 1, text.length); n > longest; n--) {
        if (text.endsWith(stop.slice(0, n))) {
          longest = n;
          break;
        }
      }
    }
    return longest;
  }
}
