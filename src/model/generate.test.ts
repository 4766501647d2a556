import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TesseraError } from '../core/errors.ts';
import { createWasmBackend } from '../tensor/wasm-backend.ts';
import { Engine } from './engine.ts';
import { ContextLengthError, generate } from './generate.ts';
import { openModel } from './open-model.ts';
import { testModel } from '../../test/support/models.ts';

test('a prompt that is empty or fills the context is refused with CONTEXT_LENGTH_EXCEEDED', async () => {
  const model = openModel(testModel('stories260K.gguf'));
  const backend = await createWasmBackend({ threads: 1 });
  try {
    const { config } = model;
    const engine = new Engine(
      config,
      { start: 0, end: config.layers, embedding: true, head: true },
      backend,
      model.weights,
    );
    const refused = (e: unknown) =>
      e instanceof ContextLengthError && e instanceof TesseraError && e.code === 'CONTEXT_LENGTH_EXCEEDED';
    assert.throws(() => generate(engine, model.tokenizer, [], { maxTokens: 1 }).next(), refused);
    const full = Array.from({ length: config.contextLength }, () => 1);
    assert.throws(
      () => generate(engine, model.tokenizer, full, { maxTokens: 1 }).next(),
      (e: unknown) => refused(e) && /context holds 2048, leaving no room/.test((e as Error).message),
    );
  } finally {
    model.weights.close();
    await backend.close();
  }
});
