import { statSync } from 'node:fs';
import { openGgufModel } from './gguf/gguf-model.ts';
import { openHfDirectory } from './hf-directory.ts';
import type { ModelFiles } from './model-files.ts';

/** Opens a GGUF file or a Hugging Face directory (config.json + safetensors + tokenizer.json). */
export function openModel(path: string): ModelFiles {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch (error) {
    throw new Error(`${path}: cannot open model: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return isDirectory ? openHfDirectory(path) : openGgufModel(path);
}
