import type { Command } from 'commander';
import { parseIntegerOption, parseNumberOption } from '../cli-error.ts';
import { addRegistryOption } from '../registry-option.ts';

export interface ChatOptions {
  registry?: string[];
  model?: string;
  maxTokens: number;
  temperature: number;
  topP: number;
  seed: number;
}

export function registerChatCommand(program: Command): void {
  addRegistryOption(
    program
      .command('chat')
      .description('Send a prompt through the network and stream the answer to the terminal.')
      .argument(
        '<prompt>',
        'the message (a model with a chat template gets it as a user turn; others continue it as text)',
      ),
  )
    .option('--model <id>', 'model id as the registry lists it (default: the only or first model served)')
    .option('--max-tokens <n>', 'most tokens to generate', parseIntegerOption('max-tokens', 1), 128)
    .option('--temperature <t>', '0 for greedy decoding', parseNumberOption('temperature', 0, 2), 0)
    .option('--top-p <p>', 'nucleus sampling mass', parseNumberOption('top-p', 0, 1), 1)
    .option('--seed <s>', 'random seed for sampling', parseIntegerOption('seed', 0, 2 ** 32 - 1), 0)
    .action(async (prompt: string, options: ChatOptions) =>
      (await import('./chat-action.ts')).chatCommand(prompt, options),
    );
}
