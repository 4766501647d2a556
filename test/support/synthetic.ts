import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QWEN2_5_0_5B, writeSyntheticModel } from './synthetic-model.ts';
import type { QuantMix } from '../../src/model/quant-mix.ts';

const directory = join(tmpdir(), `tessera-test-models-${process.pid}`);
const written = new Map<string, string>();
process.on('exit', () => rmSync(directory, { recursive: true, force: true }));

/**
 * A random-weight model of the Qwen2.5-0.5B layer shape (hidden 896, 14/2 heads, QKV bias, tied
 * embeddings) with 3 layers and a 4096-token vocabulary, so tests stay quick. One file per process.
 */
export async function syntheticQwen2(mix: QuantMix, layers = 3): Promise<string> {
  const key = `${mix}-${layers}`;
  const existing = written.get(key);
  if (existing) return existing;
  mkdirSync(directory, { recursive: true });
  const path = join(directory, `qwen2-${key}.gguf`);
  writeSyntheticModel(path, QWEN2_5_0_5B, { type: mix, seed: 7, layers, vocabSize: 4096 });
  written.set(key, path);
  return path;
}
