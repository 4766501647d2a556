import { Engine } from '../../model/engine.ts';
import { generate, type GeneratedToken } from '../../model/generate.ts';
import { createWasmBackend } from '../../tensor/wasm-backend.ts';
import { openModelOption } from '../model-option.ts';
import type { RunOptions } from './run.ts';

export async function runCommand(options: RunOptions): Promise<void> {
  const files = await openModelOption(options.model);
  const backend = await createWasmBackend({ threads: options.threads });
  try {
    const { config } = files;
    const engine = new Engine(
      config,
      { start: 0, end: config.layers, embedding: true, head: true },
      backend,
      files.weights,
    );
    const promptIds = files.tokenizer.encode(options.prompt);
    const stream = generate(engine, files.tokenizer, promptIds, {
      maxTokens: options.maxTokens,
      temperature: options.temperature,
      topK: options.topK,
      topP: options.topP,
      minP: options.minP,
      repetitionPenalty: options.repeatPenalty,
      seed: options.seed,
      logprobs: options.logprobs,
    });
    const tokens: GeneratedToken[] = [];
    let text = '';
    for (;;) {
      const next = stream.next();
      const piece = next.done ? next.value : next.value.text;
      if (!next.done) tokens.push(next.value);
      text += piece;
      if (!options.json && piece) process.stdout.write(piece);
      if (next.done) break;
    }
    if (options.json) {
      const result: Record<string, unknown> = {
        model: files.path,
        prompt_tokens: promptIds,
        tokens: tokens.map((t) => t.id),
        text,
      };
      if (options.logprobs > 0) {
        result.logprobs = tokens.map((t) => ({
          token: t.id,
          logprob: t.logprob,
          top_logprobs: t.top.map((alt) => ({ token: alt.id, text: alt.text, logprob: alt.logprob })),
        }));
      }
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } else {
      process.stdout.write('\n');
    }
  } finally {
    files.weights.close();
    await backend.close();
  }
}
