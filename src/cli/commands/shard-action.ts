import { join } from 'node:path';
import { MANIFEST_FILE } from '../../model/manifest.ts';
import { shardModel } from '../../model/shards/shard.ts';
import { ModelUrlPrivateError, resolveModelUrl, resolvePinned } from '../../node/range-fetch-url.ts';
import { CliError } from '../cli-error.ts';
import { openModelOption } from '../model-option.ts';
import type { ShardOptions } from './shard.ts';

export async function shardCommand(model: string, options: ShardOptions): Promise<void> {
  const files = await openModelOption(model);
  files.weights.close();
  // A GGUF named on the Hugging Face hub is where nodes can fetch their own tensors from.
  const sourceUrl = options.sourceUrl ?? (model.startsWith('hf:') && model.endsWith('.gguf') ? model : undefined);
  if (sourceUrl !== undefined) {
    let url;
    try {
      url = resolveModelUrl(sourceUrl, { allowLoopbackHttp: false });
    } catch (error) {
      throw new CliError(`--source-url: ${(error as Error).message}`, 2);
    }
    await warnIfNotPublic(url);
  }
  let manifest;
  try {
    manifest = shardModel(files.path, options.shards ?? files.config.layers, options.out, {
      ...(options.modelId === undefined ? {} : { modelId: options.modelId }),
      ...(sourceUrl === undefined ? {} : { sourceUrl }),
    });
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

/**
 * Nodes take a registry's model URL only from public addresses (MODEL_URL_PRIVATE), so a URL on
 * a private network serves only those given it as --model-url: said now, by the same check, not at
 * every join. A host that does not resolve here (an offline machine) says nothing about the nodes'
 * view of it.
 */
async function warnIfNotPublic(url: URL): Promise<void> {
  try {
    await resolvePinned(url, { publicOnly: 'registry' });
  } catch (error) {
    if (!(error instanceof ModelUrlPrivateError)) return;
    process.stderr.write(
      `warning: --source-url ${url.host} is at ${error.address}, a ${error.addressClass} address: nodes joining through a registry fetch only from public addresses, so only nodes given it as --model-url will use it\n`,
    );
  }
}
