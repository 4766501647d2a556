import { statSync } from 'node:fs';
import { openGguf } from '../gguf/reader.ts';
import { MetadataView } from '../gguf/value.ts';
import { tokenizerFromGguf } from '../tokenizer/from-gguf.ts';
import { tokenizerFromHfJson } from '../tokenizer/from-hf-json.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { HF_TOKENIZER_CONFIG_KEY, HF_TOKENIZER_JSON_KEY } from './shard-source.ts';

export interface ShardTokenizer {
  readonly tokenizer: Tokenizer;
  readonly chatTemplate?: string;
}

/**
 * The tokenizer of a sharded model from its tokenizer GGUF (`manifest.tokenizerFile`, or the bytes
 * a registry serves, saved to a file): a GGUF vocabulary, or the tokenizer.json of a model converted
 * from a Hugging Face directory.
 */
export function openTokenizerFile(path: string): ShardTokenizer {
  // A large vocabulary takes a noticeable time to parse: each file is parsed once per process, and a
  // file changed in place (other size, time or inode) is parsed again.
  const { size, mtimeMs, ino } = statSync(path);
  const version = `${size}:${mtimeMs}:${ino}`;
  const cached = parsed.get(path);
  if (cached?.version === version) return cached.tokenizer;
  const tokenizer = parseTokenizerFile(path);
  parsed.set(path, { version, tokenizer });
  return tokenizer;
}

const parsed = new Map<string, { version: string; tokenizer: ShardTokenizer }>();

function parseTokenizerFile(path: string): ShardTokenizer {
  const file = openGguf(path);
  try {
    const meta = new MetadataView(file.metadata, path);
    const chatTemplate = meta.optionalString('tokenizer.chat_template');
    const hfJson = meta.optionalString(HF_TOKENIZER_JSON_KEY);
    if (hfJson !== undefined && !meta.has('tokenizer.ggml.model')) {
      const config = meta.optionalString(HF_TOKENIZER_CONFIG_KEY);
      const tokenizer = tokenizerFromHfJson(
        JSON.parse(hfJson),
        config === undefined ? undefined : JSON.parse(config),
        `${path} (${HF_TOKENIZER_JSON_KEY})`,
      );
      return { tokenizer, chatTemplate };
    }
    return { tokenizer: tokenizerFromGguf(meta, path), chatTemplate };
  } finally {
    file.close();
  }
}
