import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MODEL_PATH } from '../../src/model/default-model.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** The repository's real model files: the packaged stories260K and llama.cpp's q8_0 copy of it. */
export function testModel(name: 'stories260K.gguf' | 'stories260K-q8_0.gguf'): string {
  return name === 'stories260K.gguf' ? DEFAULT_MODEL_PATH : join(FIXTURES, name);
}
