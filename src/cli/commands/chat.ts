import { join } from 'node:path';
import type { Command } from 'commander';
import { connect, type TesseraClient } from '../../client/client.ts';
import { CliError, parseIntegerOption, parseNumberOption } from '../cli-error.ts';
import { cacheDirectory } from '../model-option.ts';
import { networkFailure } from '../network-errors.ts';
import { addRegistryOption, registriesOf } from '../registry-option.ts';

interface ChatOptions {
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
    .action(async (prompt: string, options: ChatOptions) => chatCommand(prompt, options));
}

/** The model a command names, or the first one the network serves. */
export async function chosenModel(client: TesseraClient, model: string | undefined): Promise<string> {
  if (model !== undefined) return model;
  const models = await client.models();
  if (models.length === 0) throw new CliError(`the registries (${client.registries.join(', ')}) serve no model`);
  return models[0]!.modelId;
}

async function chatCommand(prompt: string, options: ChatOptions): Promise<void> {
  try {
    await chat(prompt, options);
  } catch (error) {
    throw networkFailure(error);
  }
}

async function chat(prompt: string, options: ChatOptions): Promise<void> {
  const client = await connect({ registries: registriesOf(options), cacheDir: join(cacheDirectory(), 'tokenizers') });
  try {
    const model = await chosenModel(client, options.model);
    const handle = await client.model(model);
    const input = handle.chatTemplate === undefined ? { prompt } : { messages: [{ role: 'user', content: prompt }] };
    const generation = client.generate({
      model,
      ...input,
      maxTokens: options.maxTokens,
      temperature: options.temperature,
      topP: options.topP,
      seed: options.seed,
    });
    for await (const token of generation) process.stdout.write(token.text);
    process.stdout.write(`${generation.summary!.tail}\n`);
  } finally {
    client.close();
  }
}
