/**
 * Pre-tokenizers: the regular expressions that cut text into words before BPE merges run inside each
 * word. Patterns are the JavaScript spellings of the ones llama.cpp and Hugging Face use (`u` flag for
 * \p{L} / \p{N}; case-insensitive groups written out, since Node 20 has no `(?i:...)`).
 */

export type PreTokenizer = (text: string) => string[];

/** GPT-2's pattern, also the ByteLevel pre-tokenizer's. */
export const GPT2_PATTERN = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;

const CONTRACTIONS = String.raw`(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])`;
/** Qwen2: digits one at a time. */
export const QWEN2_PATTERN = String.raw`${CONTRACTIONS}|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
/** Llama 3: digits in groups of up to three. */
export const LLAMA3_PATTERN = String.raw`${CONTRACTIONS}|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

/**
 * Compiles with `\s` / `\S` meaning Unicode White_Space, as in llama.cpp and Rust's regex: JavaScript's
 * own `\s` also takes U+FEFF and misses U+0085.
 */
function compile(source: string): RegExp {
  let out = '';
  for (let i = 0; i < source.length; i++) {
    const char = source[i]!;
    if (char !== '\\') {
      out += char;
      continue;
    }
    const escaped = source[++i] ?? '';
    out +=
      escaped === 's' ? String.raw`\p{White_Space}` : escaped === 'S' ? String.raw`\P{White_Space}` : char + escaped;
  }
  return new RegExp(out, 'gu');
}

/**
 * Applies the patterns in turn, each to every piece the previous one left (llama.cpp's
 * unicode_regex_split): matches and the text between them both become pieces.
 */
export function regexPreTokenizer(patterns: readonly string[]): PreTokenizer {
  const regexes = patterns.map(compile);
  return (text) => {
    let pieces = text.length > 0 ? [text] : [];
    for (const regex of regexes) {
      const next: string[] = [];
      for (const piece of pieces) splitPiece(piece, regex, next);
      pieces = next;
    }
    return pieces;
  };
}

function splitPiece(piece: string, regex: RegExp, out: string[]): void {
  regex.lastIndex = 0;
  let done = 0;
  for (let match = regex.exec(piece); match !== null; match = regex.exec(piece)) {
    const start = match.index;
    const end = start + match[0].length;
    if (end === start) {
      regex.lastIndex = start + (piece.codePointAt(start)! > 0xffff ? 2 : 1);
      if (regex.lastIndex > piece.length) break;
      continue;
    }
    if (start > done) out.push(piece.slice(done, start));
    out.push(piece.slice(start, end));
    done = end;
  }
  if (done < piece.length) out.push(piece.slice(done));
}

export interface GgufPreTokenizerSpec {
  readonly patterns: readonly string[];
  /** Whether a word that is already a vocabulary entry skips merging (llama.cpp's ignore_merges). */
  readonly ignoreMerges: boolean;
  /** llama.cpp's add_bos default for this pre-tokenizer, before tokenizer.ggml.add_bos_token overrides it. */
  readonly addBos: boolean;
}

const DEFAULT_PATTERNS = [String.raw`[\p{P}\$\+<=>\^~\|]+`, GPT2_PATTERN, String.raw`\p{N}+`, '[0-9][0-9][0-9]'];

/** `tokenizer.ggml.pre` values and what llama.cpp does for each (the common ones; others are refused). */
const GGUF_PRE_TOKENIZERS: Readonly<Record<string, GgufPreTokenizerSpec>> = (() => {
  const table: Record<string, GgufPreTokenizerSpec> = {};
  const add = (names: string[], spec: GgufPreTokenizerSpec) => {
    for (const name of names) table[name] = spec;
  };
  add(['default'], { patterns: DEFAULT_PATTERNS, ignoreMerges: false, addBos: false });
  add(['gpt-2', 'gpt2', 'phi-2'], { patterns: [GPT2_PATTERN], ignoreMerges: false, addBos: false });
  add(['llama3', 'llama-v3', 'llama-bpe', 'falcon3'], { patterns: [LLAMA3_PATTERN], ignoreMerges: true, addBos: true });
  add(['qwen2', 'deepseek-r1-qwen', 'megrez', 'stablelm2'], {
    patterns: [QWEN2_PATTERN],
    ignoreMerges: false,
    addBos: false,
  });
  add(['smollm', 'starcoder', 'refact', 'codeshell'], {
    patterns: [String.raw`\p{N}`, GPT2_PATTERN],
    ignoreMerges: false,
    addBos: false,
  });
  return table;
})();

export const SUPPORTED_GGUF_PRE_TOKENIZERS: readonly string[] = Object.keys(GGUF_PRE_TOKENIZERS);

/** The spec for a `tokenizer.ggml.pre` value (absent means llama.cpp's "default"), or undefined if unknown. */
export function ggufPreTokenizer(name: string | undefined): GgufPreTokenizerSpec | undefined {
  return GGUF_PRE_TOKENIZERS[name ?? 'default'];
}

/**
 * Turns a Hugging Face (Oniguruma) pattern into a JavaScript one: `(?i:...)` groups spelled out letter
 * by letter, possessive quantifiers made greedy (as llama.cpp does; the patterns in use never rely on
 * their difference).
 */
export function hfPatternToJs(pattern: string): string {
  let out = '';
  let afterQuantifier = false;
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!;
    let atom: string;
    let quantifier = false;
    if (char === '\\') {
      const property = /^\\[pP]\{[^}]*\}/.exec(pattern.slice(i));
      atom = property ? property[0] : pattern.slice(i, i + 2);
    } else if (char === '[') {
      const end = classEnd(pattern, i);
      atom = pattern.slice(i, end + 1);
    } else if (pattern.startsWith('(?i:', i)) {
      const close = pattern.indexOf(')', i);
      const body = close < 0 ? '' : pattern.slice(i + 4, close);
      if (close < 0 || /[\\(]/.test(body))
        throw new Error(`case-insensitive group too complex to translate in pattern ${JSON.stringify(pattern)}`);
      out += '(?:' + caseless(body) + ')';
      i = close;
      afterQuantifier = false;
      continue;
    } else if (char === '{' && /^\{\d+(,\d*)?\}/.test(pattern.slice(i))) {
      atom = /^\{\d+(,\d*)?\}/.exec(pattern.slice(i))![0];
      quantifier = true;
    } else if (char === '+' && afterQuantifier) {
      afterQuantifier = false; // possessive: dropped
      continue;
    } else {
      atom = char;
      quantifier =
        (char === '?' || char === '*' || char === '+') && !(char === '?' && afterQuantifier) && out.at(-1) !== '(';
    }
    out += atom;
    i += atom.length - 1;
    afterQuantifier = quantifier;
  }
  return out;
}

/** Index of the ']' that closes the character class opening at `start`. */
function classEnd(pattern: string, start: number): number {
  for (let i = start + 1; i < pattern.length; i++) {
    if (pattern[i] === '\\') i++;
    else if (pattern[i] === ']' && i > start + 1) return i;
  }
  throw new Error(`unterminated character class in pattern ${JSON.stringify(pattern)}`);
}

/** Spells letters in both cases: `ll` -> `[lL][lL]`, and inside a class `[sd]` -> `[sSdD]`. */
function caseless(body: string): string {
  let out = '';
  let inClass = false;
  for (const char of body) {
    if (char === '[') inClass = true;
    else if (char === ']') inClass = false;
    const both = char.toLowerCase() + char.toUpperCase();
    out += !/[a-zA-Z]/.test(char) ? char : inClass ? both : `[${both}]`;
  }
  return out;
}
