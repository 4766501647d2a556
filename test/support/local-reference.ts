// The single-process reference a network run is compared with: stories260K in one engine.
import { createHash } from 'node:crypto';
import { Engine } from '../../src/model/engine.ts';
import { generate, type GeneratedToken } from '../../src/model/generate.ts';
import { openModel } from '../../src/model/open-model.ts';
import type { Tokenizer } from '../../src/model/tokenizer/tokenizer.ts';
import { createWasmBackend } from '../../src/tensor/wasm-backend.ts';
import { testModel } from './models.ts';

export interface LocalRun {
  readonly tokens: GeneratedToken[];
  readonly text: string;
  /** sha256 of the logits bytes (f32 little-endian) before each generated token, as the last shard commits to them. */
  readonly logitsSha256: Buffer[];
  readonly tokenizer: Tokenizer;
}

/** Greedy generation with src/model/generate.ts, plus the logits hash of every step. */
export async function localGreedy(prompt: string, maxTokens: number, logprobs = 0): Promise<LocalRun> {
  const model = openModel(testModel('stories260K.gguf'));
  const backend = await createWasmBackend({ threads: 1 });
  try {
    const { config, tokenizer } = model;
    const engine = new Engine(
      config,
      { start: 0, end: config.layers, embedding: true, head: true },
      backend,
      model.weights,
    );
    const promptIds = tokenizer.encode(prompt);
    const tokens: GeneratedToken[] = [];
    const stream = generate(engine, tokenizer, promptIds, { maxTokens, temperature: 0, logprobs });
    let text = '';
    for (let next = stream.next(); ; next = stream.next()) {
      if (next.done) {
        text += next.value;
        break;
      }
      tokens.push(next.value);
      text += next.value.text;
    }
    const cache = engine.createCache(64 << 20);
    const logitsSha256: Buffer[] = [];
    const hash = (logits: Float32Array) =>
      createHash('sha256')
        .update(new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength))
        .digest();
    logitsSha256.push(hash(engine.forward(cache, { tokens: promptIds }, 0).logits!));
    for (let i = 0; i + 1 < tokens.length; i++) {
      logitsSha256.push(hash(engine.forward(cache, { tokens: [tokens[i]!.id] }, promptIds.length + i).logits!));
    }
    return { tokens, text, logitsSha256, tokenizer };
  } finally {
    model.weights.close();
    await backend.close();
  }
}
