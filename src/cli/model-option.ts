import { homedir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MODEL_PATH } from '../model/default-model.ts';
import { openModel } from '../model/open-model.ts';
import type { ModelFiles } from '../model/model-files.ts';
import { resolveModelSource } from '../model/source.ts';
import { CliError } from './cli-error.ts';
import { progressBar } from './progress.ts';

export function cacheDirectory(): string {
  return process.env.TESSERA_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tessera');
}

/** Resolves --model (a path or hf:OWNER/REPO/FILE; default stories260K) and opens it. */
export async function openModelOption(spec: string | undefined): Promise<ModelFiles> {
  const chosen = spec ?? DEFAULT_MODEL_PATH;
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
