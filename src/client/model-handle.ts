import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderChat, type ChatMessage } from '../model/chat-template.ts';
import type { Manifest } from '../model/manifest.ts';
import type { Tokenizer } from '../model/tokenizer/tokenizer.ts';
import { openTokenizerFile } from '../model/shards/tokenizer-file.ts';

/** What a client needs of a model to talk to its nodes: shards, tokenizer, chat template. */
export interface ModelHandle {
  readonly manifest: Manifest;
  readonly tokenizer: Tokenizer;
  readonly chatTemplate?: string;
}

/**
 * Builds a model handle from a registry's GetManifest answer. The tokenizer arrives as a GGUF file
 * with metadata only; it is written once into `cacheDir` under its hash (the GGUF reader reads
 * files) and parsed from there.
 */
export function modelHandleFromManifest(
  manifest: Manifest,
  tokenizerGguf: Uint8Array,
  cacheDir: string,
  source: string,
): ModelHandle {
  const sha256 = createHash('sha256').update(tokenizerGguf).digest('hex');
  if (manifest.tokenizerSha256 && manifest.tokenizerSha256 !== sha256) {
    throw new Error(
      `${source}: the tokenizer file has sha256 ${sha256}, the manifest says ${manifest.tokenizerSha256}`,
    );
  }
  mkdirSync(cacheDir, { recursive: true });
  const path = join(cacheDir, `tokenizer-${sha256}.gguf`);
  if (!existsSync(path)) {
    const partial = `${path}.partial-${process.pid}`;
    writeFileSync(partial, tokenizerGguf);
    renameSync(partial, path);
  }
  return { manifest, ...openTokenizerFile(path) };
}

/**
 * Token ids for a prompt: plain text as is, or a conversation rendered with the model's chat template
 * (special tokens in the rendered text are parsed; BOS is added unless the template wrote it).
 */
export function encodePrompt(
  model: ModelHandle,
  input: { prompt?: string; messages?: readonly ChatMessage[] },
): number[] {
  const { tokenizer } = model;
  if (input.messages === undefined) return tokenizer.encode(input.prompt ?? '');
  const bosToken = tokenizer.bosId === undefined ? undefined : tokenizer.tokenText(tokenizer.bosId);
  const eosToken = tokenizer.eosId === undefined ? undefined : tokenizer.tokenText(tokenizer.eosId);
  const text = renderChat(model.chatTemplate, input.messages, { bosToken, eosToken, addGenerationPrompt: true });
  const templateWroteBos = bosToken !== undefined && bosToken !== '' && text.startsWith(bosToken);
  return tokenizer.encode(text, { parseSpecial: true, addBos: tokenizer.addBos && !templateWroteBos });
}
