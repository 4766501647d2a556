import type { Command } from 'commander';
import { Engine } from '../../model/engine.ts';
import { generate, type GeneratedToken } from '../../model/generate.ts';
import { createWasmBackend } from '../../tensor/wasm-backend.ts';
import { parseIntegerOption, parseNumberOption } from '../cli-error.ts';
import { DEFAULT_THREADS, openModelOption } from '../model-option.ts';

interface RunOptions {
  model?: string;
  prompt: string;
  maxTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repeatPenalty: number;
  seed: number;
  threads: number;
  json: boolean;
  logprobs: number;
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('Continue a prompt with a model on this machine, streaming the text to stdout.')
    .option('--model <model>', 'a GGUF file, a Hugging Face directory, or hf:OWNER/REPO/FILE (default: stories260K)')
    .requiredOption('--prompt <text>', 'the text to continue')
    .option('--max-tokens <n>', 'most tokens to generate', parseIntegerOption('max-tokens', 1), 64)
    .option('--temperature <t>', '0 for greedy decoding', parseNumberOption('temperature', 0, 100), 0)
    .option('--top-k <k>', 'sample among the k most likely tokens (0: all)', parseIntegerOption('top-k', 0), 0)
    .option('--top-p <p>', 'nucleus sampling mass', parseNumberOption('top-p', 0, 1), 1)
    .option('--min-p <p>', 'drop tokens less likely than p times the best', parseNumberOption('min-p', 0, 1), 0)
    .option(
      '--repeat-penalty <r>',
      'penalty for repeated tokens (1: none)',
      parseNumberOption('repeat-penalty', 0.01, 100),
      1,
    )
    .option('--seed <s>', 'random seed for sampling', parseIntegerOption('seed', 0, 2 ** 32 - 1), 0)
    .option('--threads <k>', 'compute threads', parseIntegerOption('threads', 1, 256), DEFAULT_THREADS)
    .option('--json', 'print one JSON object instead of streaming text', false)
    .option(
      '--logprobs <k>',
      'with --json, the top-k log-probabilities at each position',
      parseIntegerOption('logprobs', 0, 20),
      0,
    )
    .action(async (options: RunOptions) => runCommand(options));
}

async function runCommand(options: RunOptions): Promise<void> {
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
