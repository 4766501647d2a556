/**
 * GPT-2's reversible byte <-> character map: byte-level BPE vocabularies store every byte as a visible
 * character (printable Latin-1 bytes as themselves, the rest shifted to U+0100 and up, so a space is "Ġ"
 * and a newline "Ċ"), which keeps merges and vocabulary entries free of whitespace and control bytes.
 */

/** The bytes in GPT-2's order: the printable ones first, then the ones that get shifted characters. */
export const BYTE_ORDER: readonly number[] = (() => {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const rest: number[] = [];
  for (let b = 0; b < 256; b++) if (!printable.includes(b)) rest.push(b);
  return [...printable, ...rest];
})();

/** BYTE_TO_CHAR[b] is the one-character string that stands for byte b. */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const chars: string[] = new Array(256);
  let shifted = 0;
  for (const b of BYTE_ORDER) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars[b] = String.fromCharCode(printable ? b : 256 + shifted++);
  }
  return chars;
})();

const CHAR_TO_BYTE: ReadonlyMap<number, number> = new Map(BYTE_TO_CHAR.map((char, b) => [char.charCodeAt(0), b]));

const utf8 = new TextEncoder();

/** The byte-level spelling of a string's UTF-8 bytes. */
export function toByteLevel(text: string): string {
  let out = '';
  for (const b of utf8.encode(text)) out += BYTE_TO_CHAR[b];
  return out;
}

/**
 * The bytes a byte-level vocabulary entry stands for. A character outside the map (which a well-formed
 * vocabulary never has) contributes its own UTF-8 bytes, so nothing is silently lost.
 */
export function fromByteLevel(text: string): Uint8Array {
  const bytes: number[] = [];
  for (const char of text) {
    const b = CHAR_TO_BYTE.get(char.codePointAt(0)!);
    if (b !== undefined) bytes.push(b);
    else bytes.push(...utf8.encode(char));
  }
  return Uint8Array.from(bytes);
}
