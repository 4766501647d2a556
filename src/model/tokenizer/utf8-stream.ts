/** The range a UTF-8 lead byte allows for the byte after it (the WHATWG decoder's lower/upper boundary). */
function secondByteRange(lead: number): readonly [number, number] {
  if (lead === 0xe0) return [0xa0, 0xbf];
  if (lead === 0xed) return [0x80, 0x9f];
  if (lead === 0xf0) return [0x90, 0xbf];
  if (lead === 0xf4) return [0x80, 0x8f];
  return [0x80, 0xbf];
}

/** Bytes of the character a UTF-8 lead byte starts; 0 for a byte that starts none. */
function sequenceLength(lead: number): number {
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/**
 * How many bytes at the end of `bytes` start a character that is valid so far but incomplete: what a
 * streaming TextDecoder holds back for the next chunk.
 */
export function incompleteTail(bytes: Uint8Array): number {
  for (let k = 1; k <= Math.min(3, bytes.length); k++) {
    const lead = bytes[bytes.length - k]!;
    if (lead >= 0x80 && lead <= 0xbf) continue;
    if (sequenceLength(lead) <= k) return 0;
    if (k >= 2) {
      const [low, high] = secondByteRange(lead);
      const second = bytes[bytes.length - k + 1]!;
      if (second < low || second > high) return 0;
    }
    return k;
  }
  return 0;
}

const KEEP_BOM = { ignoreBOM: true };

/**
 * UTF-8 bytes arriving in chunks, decoded as a streaming TextDecoder decodes them, with the held
 * bytes in view: `peek` says what a chunk would give without taking it, which TextDecoder cannot.
 */
export class Utf8Stream {
  #held: Uint8Array = new Uint8Array(0);

  /** The text `chunk` completes; the bytes of a character it leaves incomplete wait for the next. */
  push(chunk: Uint8Array): string {
    const { text, held } = this.#split(chunk);
    this.#held = held;
    return text;
  }

  /** What `push(chunk)` would return now, the stream left as it is. */
  peek(chunk: Uint8Array): string {
    return this.#split(chunk).text;
  }

  /** The held bytes as text (a replacement character for an incomplete one); the stream starts over. */
  flush(): string {
    const text = new TextDecoder('utf-8', KEEP_BOM).decode(this.#held);
    this.#held = new Uint8Array(0);
    return text;
  }

  #split(chunk: Uint8Array): { text: string; held: Uint8Array } {
    const all = new Uint8Array(this.#held.length + chunk.length);
    all.set(this.#held);
    all.set(chunk, this.#held.length);
    const complete = all.length - incompleteTail(all);
    return {
      text: new TextDecoder('utf-8', KEEP_BOM).decode(all.subarray(0, complete)),
      held: all.slice(complete),
    };
  }
}
