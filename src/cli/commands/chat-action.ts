import { join } from 'node:path';
import { connect, type TesseraClient } from '../../client/client.ts';
import { CliError } from '../cli-error.ts';
import { cacheDirectory } from '../model-option.ts';
import { networkFailure } from '../network-errors.ts';
import { registriesOf } from '../registry-option.ts';
import type { ChatOptions } from './chat.ts';

/** The model a command names, or the first one the network serves. */
export async function chosenModel(client: TesseraClient, model: string | undefined): Promise<string> {
  if (model !== undefined) return model;
  const models = await client.models();
  if (models.length === 0) throw new CliError(`the registries (${client.registries.join(', ')}) serve no model`);
  return models[0]!.modelId;
}

export async function chatCommand(prompt: string, options: ChatOptions): Promise<void> {
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
