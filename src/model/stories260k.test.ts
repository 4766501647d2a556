// The outside reference: stories260K is a real trained model, and llama.cpp, node-llama-cpp and
// llama2.c agree on its greedy continuation of "Once upon a time" (models/README.md).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportGgufAsHf } from './export-hf.ts';
import { createWasmBackend } from '../tensor/wasm-backend.ts';
import { Engine } from './engine.ts';
import { generate } from './generate.ts';
import { openModel } from './open-model.ts';
import { testModel } from '../../test/support/models.ts';

const PUBLISHED = ', there was a little girl named Lily. She loved to play';

const scratch = mkdtempSync(join(tmpdir(), 'tessera-stories-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** stories260K as a Hugging Face directory (safetensors, config.json, tokenizer.json), written by our exporter. */
function huggingFaceCopy(): string {
  const directory = join(scratch, 'stories260K-hf');
  exportGgufAsHf(testModel('stories260K.gguf'), directory);
  return directory;
}

for (const [name, locate] of [
  ['stories260K.gguf', () => testModel('stories260K.gguf')],
  ['stories260K-q8_0.gguf', () => testModel('stories260K-q8_0.gguf')],
  ['stories260K as a Hugging Face directory', huggingFaceCopy],
] as const) {
  test(`${name}: greedy "Once upon a time" continues with the published text`, async () => {
    const path = locate();
    assert.ok(existsSync(path), `${path} is missing: the repository's model files are missing`);
    const model = openModel(path);
    const backend = await createWasmBackend({ threads: 2 });
    try {
      const engine = new Engine(
        model.config,
        { start: 0, end: model.config.layers, embedding: true, head: true },
        backend,
        model.weights,
      );
      const prompt = model.tokenizer.encode('Once upon a time');
      assert.deepEqual(prompt, [1, 403, 407, 261, 378]);
      let text = '';
      for (const token of generate(engine, model.tokenizer, prompt, { maxTokens: 16 })) text += token.text;
      assert.ok(text.startsWith(PUBLISHED), `got ${JSON.stringify(text)}`);
    } finally {
      model.weights.close();
      await backend.close();
    }
  });
}
