import type { Command } from 'commander';
import { parseIntegerOption } from '../cli-error.ts';

export interface ShardOptions {
  shards?: number;
  out: string;
  modelId?: string;
  sourceUrl?: string;
}

export function registerShardCommand(program: Command): void {
  program
    .command('shard')
    .description(
      'Cut a model into shards of contiguous layers, one GGUF file each, with manifest.json (SHA-256 of every file). By default one shard a layer: a node holds any run of them, so the registry can give each node the layers its memory fits.',
    )
    .argument('<model>', 'a GGUF file, a Hugging Face directory, or hf:OWNER/REPO/FILE')
    .option(
      '--shards <n>',
      'how many shards, cut by work (default: one a layer); nodes still hold any run of them',
      parseIntegerOption('shards', 1, 1024),
    )
    .requiredOption('--out <dir>', 'where the shard files and manifest.json go')
    .option('--model-id <id>', 'the id clients ask for (default: the file name without its extension)')
    .option(
      '--source-url <url>',
      "where nodes may fetch the model's GGUF by HTTP range (https://… or hf:OWNER/REPO/FILE.gguf[@REVISION]), written into manifest.json (default: MODEL when it is an hf: .gguf)",
    )
    .action(async (model: string, options: ShardOptions) =>
      (await import('./shard-action.ts')).shardCommand(model, options),
    );
}
