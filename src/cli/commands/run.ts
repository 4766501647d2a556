import type { Command } from 'commander';
import { parseIntegerOption, parseNumberOption } from '../cli-error.ts';
import { DEFAULT_THREADS } from '../default-threads.ts';

export interface RunOptions {
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
    .action(async (options: RunOptions) => (await import('./run-action.ts')).runCommand(options));
}
