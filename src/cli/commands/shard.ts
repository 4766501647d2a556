import type { Command } from 'commander';
import { join } from 'node:path';
import { MANIFEST_FILE } from '../../model/manifest.ts';
import { shardModel } from '../../model/shards/shard.ts';
import { CliError, parseIntegerOption } from '../cli-error.ts';
import { openModelOption } from '../model-option.ts';

interface ShardOptions {
  shards: number;
  out: string;
  modelId?: string;
}

export function registerShardCommand(program: Command): void {
  program
    .command('shard')
    .description(
      'Cut a model into shards of contiguous layers, one GGUF file each, with manifest.json (SHA-256 of every file).',
    )
    .argument('<model>', 'a GGUF file, a Hugging Face directory, or hf:OWNER/REPO/FILE')
    .requiredOption('--shards <n>', 'how many shards', parseIntegerOption('shards', 1, 1024))
    .requiredOption('--out <dir>', 'where the shard files and manifest.json go')
    .option('--model-id <id>', 'the id clients ask for (default: the file name without its extension)')
    .action(async (model: string, options: ShardOptions) => shardCommand(model, options));
}

async function shardCommand(model: string, options: ShardOptions): Promise<void> {
  const files = await openModelOption(model);
  files.weights.close();
  let manifest;
  try {
    manifest = shardModel(
      files.path,
      options.shards,
      options.out,
      options.modelId === undefined ? {} : { modelId: options.modelId },
    );
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(`${manifest.modelId}: ${manifest.config.layers} layers in ${manifest.shards.length} shards`);
  for (const s of manifest.shards) {
    const parts = [s.embedding ? 'embedding' : '', s.head ? 'head' : ''].filter(Boolean).join(' + ');
    say(
      `  shard ${s.index}  layers ${s.layerStart}-${s.layerEnd - 1}${parts ? ` + ${parts}` : ''}  ${s.file}  ${s.bytes} bytes  sha256 ${s.sha256}`,
    );
  }
  say(`  tokenizer ${manifest.tokenizerFile}`);
  say(`wrote ${join(options.out, MANIFEST_FILE)}`);
}
