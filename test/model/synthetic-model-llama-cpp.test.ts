import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { getLlama, LlamaCompletion, LlamaLogLevel } from 'node-llama-cpp';
import { openGgufModel } from '../../src/model/gguf/gguf-model.ts';
import {
  LLAMA_3_2_1B,
  QWEN2_5_0_5B,
  SMOLLM_135M,
  writeSyntheticModel,
  type ModelShape,
} from '../support/synthetic-model.ts';
import type { QuantMix } from '../../src/model/quant-mix.ts';

// llama.cpp itself (node-llama-cpp's prebuilt CPU binary) must accept the files the benchmark compares on.
const dir = mkdtempSync(join(tmpdir(), 'synthetic-llama-cpp-'));
const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
after(async () => {
  await llama.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const TEXT = 'Once upon a time, there was a little girl named Lily. She said: "Hello 2024!"\n\nThe end.';

async function loadsAndGenerates(shape: ModelShape, type: QuantMix, layers = 2): Promise<void> {
  const path = join(dir, `${shape.name}-${type}.gguf`);
  writeSyntheticModel(path, shape, { type, seed: 11, layers, vocabSize: 2000 });
  const model = await llama.loadModel({ modelPath: path });
  const context = await model.createContext({ contextSize: 128, threads: 1 });
  try {
    assert.equal(model.fileInfo.metadata.general.architecture, shape.architecture);
    const ours = openGgufModel(path);
    ours.weights.close();
    assert.deepEqual(
      Array.from(model.tokenize(TEXT)),
      ours.tokenizer.encode(TEXT, { addBos: false }),
      'llama.cpp tokenizes like we do',
    );

    const generated: number[] = [];
    const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
    await completion.generateCompletion('Once upon a time', {
      maxTokens: 4,
      temperature: 0,
      onToken: (tokens) => generated.push(...tokens),
    });
    assert.equal(generated.length, 4);
    assert.ok(
      generated.every((id) => Number.isInteger(id) && id >= 0 && id < 2000),
      `token ids ${generated}`,
    );
  } finally {
    await context.dispose();
    await model.dispose();
  }
}

test('llama.cpp loads and runs a synthetic qwen2 model (q8_0)', () => loadsAndGenerates(QWEN2_5_0_5B, 'q8_0'));
test('llama.cpp loads and runs a synthetic qwen2 model (q4_K mix with Q4_0/Q8_0 fallbacks)', () =>
  loadsAndGenerates(QWEN2_5_0_5B, 'q4_K'));
test('llama.cpp loads and runs a synthetic SmolLM-shaped llama model (f32)', () =>
  loadsAndGenerates(SMOLLM_135M, 'f32'));
test('llama.cpp loads and runs a synthetic Llama-3.2-shaped model (q4_K with Q4_K/Q6_K)', () =>
  loadsAndGenerates(LLAMA_3_2_1B, 'q4_K', 1));
