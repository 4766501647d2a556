import { existsSync } from 'node:fs';
import { availableParallelism, homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openModel } from '../model/open-model.ts';
import type { ModelFiles } from '../model/model-files.ts';
import { resolveModelSource } from '../model/source.ts';
import { CliError } from './cli-error.ts';
import { progressBar } from './progress.ts';

export const DEFAULT_THREADS = availableParallelism();

const packageRoot = fileURLToPath(new URL('../../', import.meta.url));
/** The team's shared model folder sits beside the checkout; elsewhere the same file comes from the hub. */
const SHARED_DEFAULT_MODEL = join(packageRoot, '..', 'shared', 'models', 'stories260K.gguf');
export const HUB_DEFAULT_MODEL = 'hf:ggml-org/models/tinyllamas/stories260K.gguf';

export function defaultModelSpec(): string {
  return existsSync(SHARED_DEFAULT_MODEL) ? SHARED_DEFAULT_MODEL : HUB_DEFAULT_MODEL;
}

export function cacheDirectory(): string {
  return process.env.TESSERA_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tessera');
}

/** Resolves --model (a path or hf:OWNER/REPO/FILE; default stories260K) and opens it. */
export async function openModelOption(spec: string | undefined): Promise<ModelFiles> {
  const chosen = spec ?? defaultModelSpec();
  let path: string;
  try {
    path = await resolveModelSource(chosen, {
      cacheDir: cacheDirectory(),
      onProgress: progressBar(chosen),
      hubUrl: process.env.TESSERA_HUB_URL,
      token: process.env.HF_TOKEN,
    });
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  try {
    return openModel(path);
  } catch (error) {
    throw new CliError((error as Error).message);
  }
}
